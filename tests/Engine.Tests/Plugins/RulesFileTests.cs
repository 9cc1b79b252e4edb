using Kommune.Engine.Plugins;

namespace Kommune.Engine.Tests.Plugins;

/// <summary>Every kind of rules-file mistake, and what its error says.</summary>
public sealed class RulesFileTests : IDisposable
{
    private readonly PluginWorkspace _workspace = new();

    public RulesFileTests() => _workspace.AddColdRoom();

    public void Dispose() => _workspace.Dispose();

    private RulesFileException Fails(string json)
    {
        _workspace.WriteRules(json);
        using var loader = _workspace.Loader();
        return Assert.Throws<RulesFileException>(loader.Load);
    }

    private string Error(string json) => Assert.Single(Fails(json).Errors);

    [Fact]
    public void Malformed_json_gives_line_and_position()
    {
        var error = Error("{\n  \"rules\": [\n    {\"name\": \"a\" \"rule\": \"fall-detection\"}\n  ]\n}");

        Assert.StartsWith("rules.json: not valid JSON at line 3, position 18", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_file_cannot_be_read()
    {
        using var loader = _workspace.Loader();

        var error = Assert.Single(Assert.Throws<RulesFileException>(loader.Load).Errors);

        Assert.StartsWith("rules.json: cannot be read", error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_root_must_be_an_object_with_rules()
    {
        Assert.Equal("rules.json: must be an object with a 'rules' array, not an array", Error("[]"));
        Assert.Equal("rules.json: field 'rules': is required", Error("{}"));
        Assert.Equal("rules.json: field 'rules': must be an array, not an object", Error("""{"rules": {}}"""));
    }

    [Fact]
    public void An_unknown_field_is_an_error()
    {
        var errors = Fails("""
            {"rules": [{"name": "a", "rule": "fall-detection", "sensortypes": ["fall"], "severity": "high"}], "version": 2}
            """).Errors;

        Assert.Equal(
            [
                "rules.json: field 'version': unknown field (known: rules)",
                "rules.json: rule 'a': field 'sensortypes': unknown field (did you mean 'sensorTypes'?)",
                "rules.json: rule 'a': field 'severity': unknown field (known: name, rule, plugin, sensorTypes, areas, enabled, parameters)",
            ],
            errors.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_field_given_twice_is_an_error()
    {
        Assert.Equal(
            "rules.json: rule 'a': field 'rule': given twice",
            Error("""{"rules": [{"name": "a", "rule": "fall-detection", "rule": "cold-room"}]}"""));
    }

    [Fact]
    public void A_rule_without_a_name_is_named_by_its_index()
    {
        Assert.Equal(
            "rules.json: rules[1]: field 'name': is required",
            Error("""{"rules": [{"name": "a", "rule": "fall-detection"}, {"rule": "fall-detection"}]}"""));
    }

    [Fact]
    public void Names_must_be_unique()
    {
        Assert.Equal(
            "rules.json: rule 'a': field 'name': another rule has the same name",
            Error("""{"rules": [{"name": "a", "rule": "fall-detection"}, {"name": "a", "rule": "cold-room"}]}"""));
    }

    [Fact]
    public void The_rule_is_required()
    {
        Assert.Equal("rules.json: rule 'a': field 'rule': is required", Error("""{"rules": [{"name": "a"}]}"""));
    }

    [Fact]
    public void An_unknown_rule_is_an_error_listing_the_known_ones()
    {
        Assert.Equal(
            "rules.json: rule 'a': field 'rule': no built-in or plugin rule is named 'cold-rom' " +
            "(known: cold-room, congestion, congestion-area, energy-anomaly, energy-area, fall-alert, fall-detection, parking)",
            Error("""{"rules": [{"name": "a", "rule": "cold-rom"}]}"""));
    }

    [Fact]
    public void A_plugin_that_does_not_exist_is_an_error()
    {
        Assert.StartsWith(
            "rules.json: rule 'a': field 'plugin': there is no plugin folder 'Coldroom' in ",
            Error("""{"rules": [{"name": "a", "rule": "cold-room", "plugin": "Coldroom"}]}"""),
            StringComparison.Ordinal);
    }

    [Fact]
    public void A_plugin_without_the_rule_is_an_error()
    {
        Assert.Equal(
            "rules.json: rule 'a': field 'rule': plugin 'ColdRoom' has no rule 'fall-detection' (it has: cold-room)",
            Error("""{"rules": [{"name": "a", "rule": "fall-detection", "plugin": "ColdRoom"}]}"""));
    }

    [Fact]
    public void Fields_of_the_wrong_type_are_errors()
    {
        var errors = Fails("""
            {"rules": [
              {"name": 7, "rule": "fall-detection"},
              {"name": "b", "rule": "fall-detection", "sensorTypes": "fall", "areas": ["a", 3], "enabled": "yes", "parameters": [1]},
              "c"
            ]}
            """).Errors;

        Assert.Equal(
            [
                "rules.json: rule 'b': field 'areas[1]': must be a non-empty string, not 3",
                "rules.json: rule 'b': field 'enabled': must be true or false, not \"yes\"",
                "rules.json: rule 'b': field 'parameters': must be an object, not an array",
                "rules.json: rule 'b': field 'sensorTypes': must be an array of strings, not \"fall\"",
                "rules.json: rules[0]: field 'name': must be a non-empty string, not 7",
                "rules.json: rules[2]: must be an object, not \"c\"",
            ],
            errors.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void A_wrong_parameter_names_file_rule_and_field()
    {
        Assert.Equal(
            "rules.json: rule 'cold-rooms-skole': field 'parameters.threshold': must be a number, not \"ten\"",
            Error("""{"rules": [{"name": "cold-rooms-skole", "rule": "cold-room", "plugin": "ColdRoom", "parameters": {"threshold": "ten"}}]}"""));
    }

    [Fact]
    public void A_parameter_the_rule_never_reads_is_unknown()
    {
        Assert.Equal(
            "rules.json: rule 'a': field 'parameters.treshold': unknown parameter",
            Error("""{"rules": [{"name": "a", "rule": "cold-room", "parameters": {"threshold": 16, "treshold": 16}}]}"""));
        Assert.Equal(
            "rules.json: rule 'b': field 'parameters.level': unknown parameter",
            Error("""{"rules": [{"name": "b", "rule": "fall-detection", "parameters": {"level": 2}}]}"""));
    }

    [Fact]
    public void Sensor_types_may_only_narrow_the_rules_own()
    {
        Assert.Equal(
            "rules.json: rule 'a': field 'sensorTypes': rule 'cold-room' does not handle sensor type 'humidity' (it handles: temperature)",
            Error("""{"rules": [{"name": "a", "rule": "cold-room", "sensorTypes": ["temperature", "humidity"]}]}"""));
    }

    [Fact]
    public void Every_error_is_reported_at_once_one_per_line()
    {
        var exception = Fails("""
            {"rules": [
              {"name": "a", "rule": "nope"},
              {"name": "b", "rule": "cold-room", "areas": "skole-a", "parameters": {"threshold": "ten"}},
              {"name": "c", "rule": "fall-detection", "enabled": false, "extra": 1}
            ]}
            """);

        Assert.Equal(4, exception.Errors.Count);
        Assert.Equal(exception.Errors, exception.Message.Split('\n'));
        Assert.Contains(exception.Errors, e => e.Contains("rule 'a': field 'rule'", StringComparison.Ordinal));
        Assert.Contains(exception.Errors, e => e.Contains("rule 'b': field 'parameters.threshold'", StringComparison.Ordinal));
        Assert.Contains(exception.Errors, e => e.Contains("rule 'b': field 'areas'", StringComparison.Ordinal));
        Assert.Contains(exception.Errors, e => e.Contains("rule 'c': field 'extra'", StringComparison.Ordinal));
    }

    [Fact]
    public void Comments_and_trailing_commas_are_allowed()
    {
        _workspace.WriteRules("""
            // Rules for the schools.
            {
              "rules": [
                /* the default threshold is 18 */
                {"name": "cold", "rule": "cold-room", "parameters": {"threshold": 16,},},
              ],
            }
            """);
        using var loader = _workspace.Loader();

        Assert.Equal("cold", Assert.Single(loader.Load().Rules.Bindings).Name);
    }
}
