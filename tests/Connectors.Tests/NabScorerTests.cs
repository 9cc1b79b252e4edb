using Kommune.Connectors.Simulation;

namespace Kommune.Connectors.Tests;

/// <summary>
/// The NAB scorer on hand-made files whose scores are worked out on paper. A file of 1,000 readings a minute apart
/// has a probation period of 150 readings; its one window holds readings 400 to 499 (100 wide). NAB's sigmoid is
/// S(x) = 2 / (1 + e^(5x)) − 1 = −tanh(2.5 x); a window's first reading is at x = −(499 − 400 + 1) / 100 = −1, its
/// last at x = −1/100, and a true positive earns S(x) / S(−1) × A_TP.
/// </summary>
public sealed class NabScorerTests
{
    private static readonly DateTimeOffset T0 = new(2014, 4, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset[] Rows = [.. Enumerable.Range(0, 1000).Select(At)];
    private static readonly LabelledWindow[] OneWindow = [new(At(400), At(499))];

    private static DateTimeOffset At(int row) => T0.AddMinutes(row);

    private static NabFileScore Score(IReadOnlyList<LabelledWindow> windows, NabProfile profile, params int[] detectionRows) =>
        ScoreNamed("f.csv", windows, profile, detectionRows);

    private static NabFileScore ScoreNamed(string file, IReadOnlyList<LabelledWindow> windows, NabProfile profile, params int[] detectionRows) =>
        NabScorer.ScoreFile(file, Rows, windows, detectionRows.Select(At), profile);

    [Fact]
    public void The_sigmoid_is_one_minus_at_three_widths_and_zero_at_the_window_end()
    {
        Assert.Equal(0, NabScorer.ScaledSigmoid(0), 12);
        Assert.Equal(Math.Tanh(2.5), NabScorer.ScaledSigmoid(-1), 12);
        Assert.Equal(-Math.Tanh(1.25), NabScorer.ScaledSigmoid(0.5), 12);
        Assert.Equal(-1, NabScorer.ScaledSigmoid(3));
        Assert.Equal(-1, NabScorer.ScaledSigmoid(40));
    }

    [Theory]
    [InlineData(1000, 150)]
    [InlineData(4032, 604)]
    [InlineData(22695, 750)]
    [InlineData(5, 0)]
    public void The_probation_period_is_15_percent_of_the_readings_and_at_most_750(int rows, int probation) =>
        Assert.Equal(probation, NabScorer.ProbationRows(rows));

    [Fact]
    public void A_detection_at_the_start_of_the_window_earns_exactly_A_TP_and_scores_100()
    {
        var score = Score(OneWindow, NabProfile.Standard, 400);

        Assert.Equal(1.0, score.Raw, 12);
        Assert.Equal(-1.0, score.Null);
        Assert.Equal(1.0, score.Perfect);
        Assert.Equal(100, score.Normalized!.Value, 9);
        Assert.Equal((1, 1, 0), (score.WindowsDetected, score.Detections, score.FalsePositives));
    }

    [Fact]
    public void A_detection_at_the_end_of_the_window_earns_little()
    {
        // x = −1/100: S = tanh(0.025) = 0.0249948, over S(−1) = tanh(2.5) = 0.9866143: 0.0253339.
        var score = Score(OneWindow, NabProfile.Standard, 499);

        Assert.Equal(0.0253339, score.Raw, 6);
        Assert.Equal(100 * (0.0253339 + 1) / 2, score.Normalized!.Value, 4);
    }

    [Fact]
    public void Only_the_earliest_detection_in_a_window_counts()
    {
        // Readings 450 and 499: x = −50/100 = −0.5, S = tanh(1.25) = 0.8482836, over 0.9866143: 0.8597926.
        var score = Score(OneWindow, NabProfile.Standard, 499, 450, 460);

        Assert.Equal(0.8597926, score.Raw, 6);
        Assert.Equal((1, 3, 0), (score.WindowsDetected, score.Detections, score.FalsePositives));
    }

    [Fact]
    public void A_missed_window_costs_A_FN_per_profile()
    {
        Assert.Equal(-1.0, Score(OneWindow, NabProfile.Standard).Raw);
        Assert.Equal(-1.0, Score(OneWindow, NabProfile.RewardLowFalsePositives).Raw);
        Assert.Equal(-2.0, Score(OneWindow, NabProfile.RewardLowFalseNegatives).Raw);
        Assert.Equal(0, Score(OneWindow, NabProfile.Standard).Normalized!.Value);
    }

    [Fact]
    public void A_false_alarm_right_after_a_window_costs_much_less_than_one_far_away()
    {
        // Right after (reading 500): x = (500 − 499) / (100 − 1) = 0.0101010, S = −tanh(0.0252525) = −0.0252472,
        // times A_FP 0.11: −0.0027772. Far away (reading 900, x = 401/99 ≥ 3): −A_FP.
        var right = Score(OneWindow, NabProfile.Standard, 400, 500);
        var far = Score(OneWindow, NabProfile.Standard, 400, 900);
        var lowFp = Score(OneWindow, NabProfile.RewardLowFalsePositives, 400, 900);

        Assert.Equal(1 - 0.0027772, right.Raw, 6);
        Assert.Equal(1 - 0.11, far.Raw, 12);
        Assert.Equal(1 - 0.22, lowFp.Raw, 12);
        Assert.Equal((1, 2, 1), (far.WindowsDetected, far.Detections, far.FalsePositives));
    }

    [Fact]
    public void A_false_alarm_before_the_first_window_costs_A_FP_and_one_in_probation_nothing()
    {
        var score = Score(OneWindow, NabProfile.Standard, 100, 200, 400);

        Assert.Equal(1 - 0.11, score.Raw, 12);
        Assert.Equal((2, 1), (score.Detections, score.FalsePositives));
    }

    [Fact]
    public void A_file_with_no_windows_costs_A_FP_per_false_alarm_and_has_no_normalised_score()
    {
        var quiet = Score([], NabProfile.Standard);
        var noisy = Score([], NabProfile.Standard, 300, 600, 600, 900);

        Assert.Equal((0.0, 0.0, 0.0), (quiet.Raw, quiet.Null, quiet.Perfect));
        Assert.Null(noisy.Normalized);
        Assert.Equal(-3 * 0.11, noisy.Raw, 12);
        Assert.Equal(3, noisy.FalsePositives);
    }

    [Fact]
    public void A_detection_between_readings_counts_at_the_reading_before_it()
    {
        var score = NabScorer.ScoreFile("f.csv", Rows, OneWindow, [At(400).AddSeconds(30)], NabProfile.Standard);

        Assert.Equal(1.0, score.Raw, 12);
    }

    [Fact]
    public void The_total_normalises_the_sum_over_files_between_the_null_and_the_perfect_detector()
    {
        // File 1: found at its start (+1). File 2: missed (−1), one false alarm far away (−0.11). File 3: no windows,
        // one false alarm (−0.11). Raw 1 − 1 − 0.22 = −0.22; null −2; perfect 2: 100 × 1.78 / 4 = 44.5.
        var files = new[]
        {
            Score(OneWindow, NabProfile.Standard, 400),
            Score(OneWindow, NabProfile.Standard, 900),
            Score([], NabProfile.Standard, 300),
        };

        Assert.Equal(44.5, NabScorer.Normalized(files), 9);
        Assert.Equal(0, NabScorer.Normalized([Score(OneWindow, NabProfile.Standard), Score([], NabProfile.Standard)]));
    }

    [Fact]
    public void Two_windows_each_scored_by_its_own_earliest_detection_and_false_alarms_by_the_window_before_them()
    {
        // Windows 300–399 and 600–699. Detections: 350 (x = −0.5: 0.8597926), 400 (right after the first:
        // −0.0027772), 700 (right after the second: −0.0027772). The second window at its start: 1.
        LabelledWindow[] two = [new(At(300), At(399)), new(At(600), At(699))];
        var score = Score(two, NabProfile.Standard, 350, 400, 600, 700);

        Assert.Equal(0.8597926 + 1 - (2 * 0.0027772), score.Raw, 6);
        Assert.Equal((2, 4, 2), (score.WindowsDetected, score.Detections, score.FalsePositives));
        Assert.Equal(2.0, score.Perfect);
        Assert.Equal(-2.0, score.Null);
    }

    [Fact]
    public void The_table_has_a_row_per_file_and_the_three_normalised_scores()
    {
        var scores = NabProfile.All.SelectMany(p => new[] { ScoreNamed("a.csv", OneWindow, p, 400), ScoreNamed("b.csv", [], p, 300) }).ToList();

        var table = NabScorer.Table(scores, NabProfile.All);

        Assert.Contains("| standard | reward_low_FP_rate | reward_low_FN_rate |", table, StringComparison.Ordinal);
        Assert.Contains("| total (2 files) | 2000 | 1 | 1 | 2 | 1 | 94.5 | 89.0 | 96.3 |", table, StringComparison.Ordinal);
    }
}
