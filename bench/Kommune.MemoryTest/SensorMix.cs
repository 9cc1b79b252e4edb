using System.Globalization;
using Kommune.Rules.Model;

namespace Kommune.MemoryTest;

/// <summary>
/// Which sensor has which type and area: the layout of <see cref="Kommune.Connectors.Simulation.SensorSimulator"/>
/// (sensor i is in area i mod areas; in the municipal mix its type follows slot (i / areas) mod 10: 1 fall, 4 traffic,
/// 3 parking, 2 energy), with the simulator's ids (<c>traffic-000002</c>).
/// </summary>
internal static class SensorMix
{
    /// <summary>The municipal mix of every type.</summary>
    public const string Mixed = "mixed";

    /// <summary>The sensor types of the built-in rules, in the order results are reported.</summary>
    public static IReadOnlyList<string> Types { get; } = [SensorTypes.Fall, SensorTypes.Traffic, SensorTypes.Parking, SensorTypes.Energy];

    /// <summary>The type of sensor <paramref name="index"/>: <paramref name="mix"/> itself unless it is <see cref="Mixed"/>.</summary>
    public static string TypeOf(string mix, long index, int areas) => mix != Mixed ? mix : ((index / areas) % 10) switch
    {
        0 => SensorTypes.Fall,
        < 5 => SensorTypes.Traffic,
        < 8 => SensorTypes.Parking,
        _ => SensorTypes.Energy,
    };

    /// <summary>The id of sensor <paramref name="index"/> of type <paramref name="type"/>, as the simulator names it.</summary>
    public static string Id(string type, long index) => string.Create(CultureInfo.InvariantCulture, $"{type}-{index + 1:D6}");

    /// <summary>The area of sensor <paramref name="index"/>, as the simulator names it.</summary>
    public static string Area(long index, int areas) => string.Create(CultureInfo.InvariantCulture, $"area-{(index % areas) + 1:D3}");
}
