using Kommune.Rules.Model;

namespace Kommune.Web.Boards;

/// <summary>
/// The aggregates per area and metric, as read from the aggregates topic: the latest value per window (a window
/// written again replaces its point), the newest <see cref="PointsKept"/> windows per series. Not thread-safe.
/// </summary>
internal sealed class AreaBook
{
    /// <summary>Windows kept per area and metric: two hours of minutes, or 30 hours of 15-minute energy windows.</summary>
    public const int PointsKept = 120;

    private readonly SortedDictionary<string, Dictionary<string, SortedList<DateTimeOffset, MetricPoint>>> _areas = new(StringComparer.Ordinal);

    /// <summary>Applies one aggregate; returns its point.</summary>
    public AggregateView Apply(Aggregate aggregate)
    {
        if (!_areas.TryGetValue(aggregate.AreaId, out var metrics))
        {
            metrics = new Dictionary<string, SortedList<DateTimeOffset, MetricPoint>>(StringComparer.Ordinal);
            _areas[aggregate.AreaId] = metrics;
        }

        if (!metrics.TryGetValue(aggregate.Metric, out var series))
        {
            series = [];
            metrics[aggregate.Metric] = series;
        }

        var point = new MetricPoint(aggregate.WindowStart, aggregate.WindowEnd, aggregate.Value, aggregate.Count);
        series[aggregate.WindowStart] = point;
        while (series.Count > PointsKept)
        {
            series.RemoveAt(0);
        }

        return new AggregateView(aggregate.AreaId, aggregate.Metric, point);
    }

    /// <summary>Every area with its series.</summary>
    public List<AreaView> Areas() =>
        [.. _areas.Select(a => new AreaView(a.Key, a.Value.ToDictionary(m => m.Key, m => (IReadOnlyList<MetricPoint>)[.. m.Value.Values], StringComparer.Ordinal)))];

    /// <summary>The newest point of one area's metric, or null.</summary>
    public MetricPoint? Latest(string areaId, string metric) =>
        _areas.TryGetValue(areaId, out var metrics) && metrics.TryGetValue(metric, out var series) && series.Count > 0 ? series.Values[^1] : null;

    /// <summary>The areas that have any aggregate, in order.</summary>
    public IEnumerable<string> AreaIds => _areas.Keys;
}
