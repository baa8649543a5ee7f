using CalRec.Recommenders;
using CalRec.Recommenders.Evaluation;
using CalRec.Reports.Curves;

namespace CalRec.Reports;

/// <summary>One grounding path of a CALRec run, evaluated on a sample of the test users.</summary>
/// <param name="Path">The path's label.</param>
/// <param name="Metrics">Its metrics on the sample.</param>
/// <param name="SecondsPerThousandUsers">Scoring time.</param>
public sealed record GroundingPathResult(string Path, RecommendationMetrics Metrics, double SecondsPerThousandUsers);

/// <summary>One model of a report: its test metrics, their breakdowns, what it recommends, and its training curve.</summary>
public sealed class ReportRun
{
    internal ReportRun(string name, string modelPath, RecommenderModel model, RecommendationMetrics metrics, IReadOnlyList<(string Domain, RecommendationMetrics Metrics)> domains,
        double[] recommendedByDecile, IReadOnlyList<TrainingCurvePoint> curve, IReadOnlyList<GroundingPathResult> grounding)
    {
        Name = name;
        ModelPath = modelPath;
        Kind = model.Kind;
        Training = model.Training;
        Metrics = metrics;
        Domains = domains;
        RecommendedByPopularityDecile = recommendedByDecile;
        Curve = curve;
        Grounding = grounding;
    }

    /// <summary>The run's label in the report.</summary>
    public string Name { get; }

    /// <summary>The model file.</summary>
    public string ModelPath { get; }

    /// <summary>The model kind (sasrec, calrec, ...).</summary>
    public string Kind { get; }

    /// <summary>How the model was trained (time, epochs, settings).</summary>
    public TrainingInfo Training { get; }

    /// <summary>Test metrics (full ranking, seen items excluded) with bootstrap intervals and each user's rank.</summary>
    public RecommendationMetrics Metrics { get; }

    /// <summary>Test metrics per domain of the target item.</summary>
    public IReadOnlyList<(string Domain, RecommendationMetrics Metrics)> Domains { get; }

    /// <summary>Share of the top-10 slots filled by each item-popularity decile (decile 0: the most popular tenth of the catalogue).</summary>
    public double[] RecommendedByPopularityDecile { get; }

    /// <summary>The training curve from the metrics file beside the model (empty when there is none).</summary>
    public IReadOnlyList<TrainingCurvePoint> Curve { get; }

    /// <summary>For CALRec, each grounding path on a sample of the test users (empty otherwise or when not asked).</summary>
    public IReadOnlyList<GroundingPathResult> Grounding { get; }
}

/// <summary>A report: the dataset, the protocol, and the runs compared (the first is the reference of paired differences).</summary>
/// <param name="Title">Heading.</param>
/// <param name="Dataset">Dataset name.</param>
/// <param name="Protocol">How the test metrics were measured.</param>
/// <param name="TestUsers">Evaluated users.</param>
/// <param name="TargetByPopularityDecile">Share of the test targets in each item-popularity decile.</param>
/// <param name="Runs">The runs.</param>
/// <param name="CreatedUtc">When the report was made.</param>
public sealed record RunReport(string Title, string Dataset, string Protocol, int TestUsers, double[] TargetByPopularityDecile, IReadOnlyList<ReportRun> Runs, DateTimeOffset CreatedUtc);
