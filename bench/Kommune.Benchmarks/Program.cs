using BenchmarkDotNet.Running;

namespace Kommune.Benchmarks;

/// <summary>Runs the micro benchmarks: dotnet run -c Release --project bench/Kommune.Benchmarks -- --filter '*'</summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, new BenchmarkConfig());
}
