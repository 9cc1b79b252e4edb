using Xunit.Abstractions;

namespace Kommune.Rules.Tests.BuiltIn;

public sealed class NabOfflineCheckTests(ITestOutputHelper output)
{
    [Fact]
    public void Tuning()
    {
        var dir = NabScoring.FindDataDirectory();
        Assert.NotNull(dir);
        var json = Environment.GetEnvironmentVariable("NAB_PARAMS") ?? "{}";
        var table = NabScoring.Table(NabScoring.Run(dir, json));
        output.WriteLine(table);
        File.WriteAllText("/tmp/nab_table.txt", json + "\n" + table);
    }
}

public sealed class NabDumpTests
{
    [Fact]
    public void Dump()
    {
        var dir = NabScoring.FindDataDirectory()!;
        var file = Environment.GetEnvironmentVariable("NAB_FILE") ?? "realTraffic/TravelTime_387.csv";
        var json = Environment.GetEnvironmentVariable("NAB_PARAMS") ?? "{}";
        var alerts = NabScoring.Alerts(Kommune.Connectors.Simulation.RecordedSeries.Load(Path.Combine(dir, file)), json);
        File.WriteAllLines("/tmp/nab_dump.txt", alerts.Select(a => $"{a.EventTime:u} {a.Status} {a.SubCategory} {a.Severity} {a.Description}"));
    }
}
