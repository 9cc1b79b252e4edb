namespace Kommune.Engine.Tests.Plugins;

/// <summary>
/// The source of a small rule plugin, in the builds a reload test swaps in: <c>night-noise</c> (sensor scope: one alert
/// per loud spell, incident <c>loud:&lt;start ms&gt;</c>, resolved at the first quiet reading) and <c>noise-hour</c>
/// (area scope: the loudest reading per area and hour, an event-time window). Each build's state is of types the
/// plugin itself defines, so a new build must read the old build's state from its JSON.
/// </summary>
internal static class NightNoisePlugin
{
    /// <summary>The plugin's folder and assembly name.</summary>
    public const string Name = "NightNoise";

    /// <summary>
    /// Build <paramref name="build"/> of the plugin with <c>night-noise</c> at <paramref name="stateVersion"/>: 1 keeps a
    /// <c>LoudSpell</c> under <c>spell</c>; 2 an <c>Episode</c> under <c>episode</c> and migrates from 1; 3 a
    /// <c>Spell3</c> under <c>spell3</c> and migrates from nothing.
    /// </summary>
    public static string Source(int build, int stateVersion) => $$"""
        using System;
        using System.Collections.Generic;
        using Kommune.Rules.Api;
        using Kommune.Rules.Model;
        using Kommune.Rules.Windows;

        [assembly: System.Reflection.AssemblyInformationalVersion("build {{build}}")]

        namespace NightNoise;

        public sealed record LoudSpell(DateTimeOffset Since, double Db);
        public sealed record Episode(DateTimeOffset Since, double Peak);
        public sealed record Spell3(long SinceMs);

        [Rule("night-noise")]
        public sealed class NightNoiseRule : Rule
        {
            private readonly double _threshold;

            public NightNoiseRule(RuleParameters parameters) => _threshold = parameters.GetNumber("threshold", 70);

            public override IReadOnlyCollection<string> SensorTypes { get; } = ["noise"];

            public override int StateVersion => {{stateVersion}};

            public override void OnEvent(IRuleContext context, SensorEvent e)
            {
                if (!e.TryGetNumber("db", out var db)) return;
                var (since, peak) = Read(context);
                if (db >= _threshold && since is null)
                {
                    Write(context, e.Timestamp, db);
                    context.RaiseAlert(Incident(e.Timestamp), new AlertDraft("environment", "noise", AlertSeverity.Low, $"{db} dB at night (build {{build}})"));
                }
                else if (db < _threshold && since is { } start)
                {
                    Clear(context);
                    context.ResolveAlert(Incident(start), $"quiet after a peak of {peak} dB");
                }
                else if (since is { } open && db > peak)
                {
                    Write(context, open, db);
                }
            }

            {{Shape(stateVersion)}}

            private static string Incident(DateTimeOffset since) => $"loud:{since.ToUnixTimeMilliseconds()}";
        }

        [Rule("noise-hour")]
        public sealed class NoiseHourRule : Rule
        {
            private readonly WindowedAggregation _hour = new("hour", WindowSpec.Tumbling(TimeSpan.FromHours(1)),
                (context, result) => result.EmitAggregate(context, "noise.max", r => r.Max));

            public override RuleScope Scope => RuleScope.Area;

            public override IReadOnlyCollection<string> SensorTypes { get; } = ["noise"];

            public override void OnEvent(IRuleContext context, SensorEvent e)
            {
                if (e.TryGetNumber("db", out var db)) _hour.Add(context, e.Timestamp, db);
            }

            public override void OnTimer(IRuleContext context, RuleTimer timer) => _hour.OnTimer(context, timer);
        }
        """;

    private static string Shape(int stateVersion) => stateVersion switch
    {
        1 => """
            private static (DateTimeOffset? Since, double Peak) Read(IRuleContext context) =>
                context.State<LoudSpell>("spell").Value is { } spell ? (spell.Since, spell.Db) : (null, 0);

            private static void Write(IRuleContext context, DateTimeOffset since, double db) => context.State<LoudSpell>("spell").Update(new LoudSpell(since, db));

            private static void Clear(IRuleContext context) => context.State<LoudSpell>("spell").Clear();
            """,
        2 => """
            private static (DateTimeOffset? Since, double Peak) Read(IRuleContext context) =>
                context.State<Episode>("episode").Value is { } episode ? (episode.Since, episode.Peak) : (null, 0);

            private static void Write(IRuleContext context, DateTimeOffset since, double db) => context.State<Episode>("episode").Update(new Episode(since, db));

            private static void Clear(IRuleContext context) => context.State<Episode>("episode").Clear();

            public override bool MigrateState(int fromVersion, IStateMigration state)
            {
                if (fromVersion != 1) return false;
                if (state.Read<LoudSpell>("spell") is { } spell) state.Write("episode", new Episode(spell.Since, spell.Db));
                state.Remove("spell");
                return true;
            }
            """,
        _ => """
            private static (DateTimeOffset? Since, double Peak) Read(IRuleContext context) =>
                context.State<Spell3>("spell3").Value is { } spell ? (DateTimeOffset.FromUnixTimeMilliseconds(spell.SinceMs), 0) : (null, 0);

            private static void Write(IRuleContext context, DateTimeOffset since, double db) => context.State<Spell3>("spell3").Update(new Spell3(since.ToUnixTimeMilliseconds()));

            private static void Clear(IRuleContext context) => context.State<Spell3>("spell3").Clear();
            """,
    };
}
