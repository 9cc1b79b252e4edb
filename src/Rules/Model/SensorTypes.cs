namespace Kommune.Rules.Model;

/// <summary>The sensor types the built-in rules understand. Plugins may use any other type name.</summary>
public static class SensorTypes
{
    /// <summary>Home-care fall sensors (wearables or room sensors).</summary>
    public const string Fall = "fall";

    /// <summary>Road sensors: speed, flow, occupancy.</summary>
    public const string Traffic = "traffic";

    /// <summary>Parking bay sensors or car park counters.</summary>
    public const string Parking = "parking";

    /// <summary>Energy meters in municipal buildings.</summary>
    public const string Energy = "energy";
}
