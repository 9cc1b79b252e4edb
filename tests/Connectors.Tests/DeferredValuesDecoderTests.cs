using System.Text;
using Kommune.Connectors.Codecs;
using Kommune.Rules.Model;
using Microsoft.Extensions.Time.Testing;

namespace Kommune.Connectors.Tests;

/// <summary>
/// <see cref="SensorEventDecoder.ValuesWanted"/>: the values of an event no rule takes are checked as always but read only
/// when asked for, and then read the same as when they were wanted.
/// </summary>
public sealed class DeferredValuesDecoderTests
{
    private const string Head = """{"sensorId":"s-1","areaId":"area-001","type":"heartbeat","ts":1714564800000,"values":""";

    private static readonly DateTimeOffset Now = new(2024, 5, 1, 12, 0, 0, TimeSpan.Zero);

    private static SensorEventDecoder Decoder(bool wanted, List<(string Area, string Type)>? asked = null) =>
        new(SensorEventLimits.Default, new FakeTimeProvider(Now))
        {
            ValuesWanted = (area, type) =>
            {
                asked?.Add((area, type));
                return wanted;
            },
        };

    private static (bool Ok, SensorEvent? Event, DecodeFailure Failure) Decode(SensorEventDecoder decoder, string json)
    {
        var ok = decoder.TryDecode(null, Encoding.UTF8.GetBytes(json), out var sensorEvent, out var failure);
        return (ok, sensorEvent, failure);
    }

    [Theory]
    [InlineData("""{"bpm":61,"worn":true,"note":"ok"}""")]
    [InlineData("""{"a":1,"a":2}""")]
    [InlineData("""{"n\u00e6r":"\u00f8st","x":-0.5e3}""")]
    [InlineData("""{ "spaced" : 1 }""")]
    [InlineData("{}")]
    [InlineData("null")]
    public void Values_not_wanted_read_later_equal_values_read_at_once(string values)
    {
        var json = Head + values + "}";
        var eager = Decode(Decoder(wanted: true), json);
        var deferred = Decode(Decoder(wanted: false), json);

        Assert.True(eager.Ok);
        Assert.True(deferred.Ok);
        Assert.Equal(
            eager.Event!.Values.OrderBy(v => v.Key, StringComparer.Ordinal).ToList(),
            deferred.Event!.Values.OrderBy(v => v.Key, StringComparer.Ordinal).ToList());
        foreach (var (name, value) in eager.Event.Values)
        {
            Assert.True(deferred.Event.Values.TryGetValue(name, out var read));
            Assert.Equal(value, read);
        }
    }

    [Theory]
    [InlineData("""{"bpm":{"nested":1}}""")]
    [InlineData("""{"bpm":[1,2]}""")]
    [InlineData("""{"bpm":null}""")]
    [InlineData("""{"bpm":1e999}""")]
    [InlineData("\"not an object\"")]
    public void Bad_values_refuse_the_record_the_same_whether_wanted_or_not(string values)
    {
        var json = Head + values + "}";
        var eager = Decode(Decoder(wanted: true), json);
        var deferred = Decode(Decoder(wanted: false), json);

        Assert.False(eager.Ok);
        Assert.False(deferred.Ok);
        Assert.Equal(eager.Failure, deferred.Failure);
    }

    [Theory]
    [InlineData(309, false)] // 10^309 without an exponent: past a double's range
    [InlineData(298, true)] // 10^298: the longest that is finite without parsing
    [InlineData(307, true)] // 10^307: parsed, and finite
    public void A_long_number_without_an_exponent_is_judged_by_its_value_the_same_whether_wanted_or_not(int zeros, bool finite)
    {
        var json = Head + """{"kwh":1""" + new string('0', zeros) + "}}";
        var eager = Decode(Decoder(wanted: true), json);
        var deferred = Decode(Decoder(wanted: false), json);

        Assert.Equal(finite, eager.Ok);
        Assert.Equal(finite, deferred.Ok);
        Assert.Equal(eager.Failure, deferred.Failure);
        Assert.Equal(finite ? default : DeadLetterCode.NotFinite, deferred.Failure.Code);
    }

    [Fact]
    public void Malformed_values_refuse_the_record_when_not_wanted()
    {
        var (ok, sensorEvent, failure) = Decode(Decoder(wanted: false), Head + """{"bpm":61,}""" + "}");

        Assert.False(ok);
        Assert.Null(sensorEvent);
        Assert.Equal(DeadLetterCode.MalformedJson, failure.Code);
    }

    [Fact]
    public void The_question_is_asked_with_the_area_and_type_and_not_when_the_values_come_first()
    {
        var asked = new List<(string Area, string Type)>();
        var decoder = Decoder(wanted: false, asked);

        var first = Decode(decoder, Head + """{"bpm":61}}""");
        var valuesFirst = Decode(decoder, """{"values":{"bpm":62},"sensorId":"s-1","areaId":"area-001","type":"heartbeat","ts":1714564800000}""");

        Assert.True(first.Ok);
        Assert.True(valuesFirst.Ok);
        Assert.Equal([("area-001", "heartbeat")], asked);
        Assert.Equal(62, valuesFirst.Event!.Values["bpm"].Number);
        Assert.Equal(61, first.Event!.Values["bpm"].Number);
    }
}
