using System.Text.RegularExpressions;
using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.Recommenders;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.MostPopular;
using CalRec.Reports.Curves;
using CalRec.Reports.Html;

namespace CalRec.Reports.Tests;

public sealed partial class ReportTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("calrec-reports-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    [Test]
    public void CurvePointsRoundTripThroughTheMetricsFileAndAResumedRunAppends()
    {
        string model = Path.Combine(_dir, "m.zip");
        Assert.That(TrainingCurveFile.PathFor(model), Is.EqualTo(Path.Combine(_dir, "m.metrics.jsonl")));
        var first = new TrainingCurvePoint("stage2", 1, 3, 1.25, 7.5, new Dictionary<string, double> { ["L_NIG"] = 2.5, ["L_UT"] = double.NaN }, 1234.5, 0.0421);
        using (TrainingCurveWriter w = TrainingCurveFile.Create(model, append: false))
        {
            w.Append(first);
        }

        using (TrainingCurveWriter w = TrainingCurveFile.Create(model, append: true))
        {
            w.Append(first with { Step = 4, Seconds = 2, ValidationNdcg10 = null, TokensPerSecond = null });
        }

        IReadOnlyList<TrainingCurvePoint> read = TrainingCurveFile.Read(TrainingCurveFile.PathFor(model));
        Assert.That(read, Has.Count.EqualTo(2));
        Assert.That(read[0].Terms, Is.EqualTo(new Dictionary<string, double> { ["L_NIG"] = 2.5 }), "a term not computed (NaN) is left out");
        Assert.That((read[0].Phase, read[0].Step, read[0].Seconds, read[0].Loss, read[0].TokensPerSecond, read[0].ValidationNdcg10), Is.EqualTo(("stage2", 3, 1.25, 7.5, (double?)1234.5, (double?)0.0421)));
        Assert.That((read[1].Step, read[1].ValidationNdcg10, read[1].TokensPerSecond), Is.EqualTo((4, (double?)null, (double?)null)));
    }

    [Test]
    public void AMalformedMetricsFileIsReportedWithFileLineAndField()
    {
        string path = Path.Combine(_dir, "m.metrics.jsonl");
        File.WriteAllText(path, "{\"phase\":\"train\",\"epoch\":1,\"step\":1,\"seconds\":2.5,\"loss\":1.5,\"terms\":{}}\n{\"phase\":\"train\",\"epoch\":2,\"step\":2,\"seconds\":\"late\"}\n");
        var e = Assert.Throws<DataFormatException>(() => TrainingCurveFile.Read(path));
        Assert.That(e!.Message, Is.EqualTo($"{path}:2: field 'seconds': expected a number, got \"late\""));
        File.WriteAllText(path, "{\"phase\":\"train\",\"epoch\":1,\"step\":1,\"seconds\":2.5,\"loss\":1.5}\nnot json\n");
        Assert.That(Assert.Throws<DataFormatException>(() => TrainingCurveFile.Read(path))!.Message, Does.StartWith($"{path}:2: field '(line)': not JSON"));
        File.WriteAllText(path, "{\"epoch\":1,\"step\":1,\"seconds\":2.5}\n");
        Assert.That(Assert.Throws<DataFormatException>(() => TrainingCurveFile.Read(path))!.Message, Is.EqualTo($"{path}:1: field 'phase': missing or not a string"));
    }

    [Test]
    public void PopularityDecilesCutTheCatalogueIntoTenthsByHistoryCounts()
    {
        // Item i appears i times in histories: the most popular items are the highest indices.
        var cases = new List<EvaluationCase>();
        for (int item = 0; item < 20; item++)
        {
            for (int n = 0; n < item; n++)
            {
                cases.Add(new EvaluationCase(cases.Count, [item], 0));
            }
        }

        int[] deciles = ReportEvaluation.PopularityDeciles(cases, 20);
        Assert.That(deciles, Is.EqualTo(Enumerable.Range(0, 20).Select(i => (19 - i) / 2)));
    }

    [Test]
    public void EverySvgOfThePageHasIdsOfItsOwnNumberedInOrder()
    {
        const string Svg = "<?xml version=\"1.0\" encoding=\"utf-8\" ?>\n<svg><clipPath id=\"cl_4\"><rect/></clipPath><g clip-path=\"url(#cl_4)\"><use xlink:href=\"#cl_4\"/></g></svg>";
        string a = SvgCharts.Isolate(Svg, "plot1-"), b = SvgCharts.Isolate(Svg, "plot2-");
        Assert.That(a, Is.EqualTo("<svg><clipPath id=\"plot1-0\"><rect/></clipPath><g clip-path=\"url(#plot1-0)\"><use xlink:href=\"#plot1-0\"/></g></svg>"));
        Assert.That(Ids(a).Intersect(Ids(b)), Is.Empty);
    }

    [Test]
    public void APageOfTwoModelsCarriesTheirMetricsPlotsAndNoExternalReference()
    {
        InteractionDataset data = Data.Synthetic.SyntheticCatalog.Generate(new Data.Synthetic.SyntheticCatalogOptions { Seed = 3, UsersPerDomain = 40 }).ToDataset();
        var split = new LeaveOneOutSplit(data);
        var ctx = new RecContext(seed: 1);
        RecommenderModel pop = ctx.Trainers.MostPopular().Fit(split);
        string popPath = Path.Combine(_dir, "pop.zip"), otherPath = Path.Combine(_dir, "other.zip");
        using (TrainingCurveWriter w = TrainingCurveFile.Create(otherPath, append: false))
        {
            for (int epoch = 1; epoch <= 3; epoch++)
            {
                w.Append(new TrainingCurvePoint("train", epoch, epoch, epoch * 10, 5.0 / epoch, new Dictionary<string, double>(), null, 0.01 * epoch));
            }
        }

        RunReport report = ReportEvaluation.Evaluate("Two models", data, [("popularity", popPath, pop), ("popularity again", otherPath, pop)]);
        string html = HtmlReport.Render(report);

        Assert.That(report.Runs[0].Metrics["ndcg@10"].Value, Is.EqualTo(RecommendationEvaluator.Evaluate(pop, EvaluationCases.Test(pop, data))["ndcg@10"].Value));
        Assert.That(report.Runs.Select(r => r.Curve.Count), Is.EqualTo(new[] { 0, 3 }));
        Assert.That(report.Runs[0].RecommendedByPopularityDecile.Sum(), Is.EqualTo(1).Within(1e-9));
        Assert.That(report.Runs[0].RecommendedByPopularityDecile[0], Is.GreaterThan(0.9), "popularity recommends the most popular decile");
        Assert.That(report.TargetByPopularityDecile.Sum(), Is.EqualTo(1).Within(1e-9));
        Assert.That(report.Runs[0].Domains.Select(d => d.Domain), Is.EquivalentTo(data.Domains));
        Assert.That(Regex.Matches(html, "<svg").Count, Is.EqualTo(7), "over K (2), paired difference, validation, one loss, domains, popularity");
        Assert.That(html, Does.Contain("+0.0000 [+0.0000, +0.0000]"), "a model against itself differs by exactly zero");
        Assert.That(html, Does.Not.Contain("<script").And.Not.Contain("src=").And.Not.Contain("href=\"http"));

        string file = Path.Combine(_dir, "report.html");
        HtmlReport.Save(report, file);
        Assert.That(File.ReadAllText(file), Is.EqualTo(html));
        Assert.That(Directory.GetFiles(_dir, "*.tmp"), Is.Empty);
    }

    private static IEnumerable<string> Ids(string svg) => IdPattern().Matches(svg).Select(m => m.Groups[1].Value);

    [GeneratedRegex("id=\"([^\"]+)\"")]
    private static partial Regex IdPattern();
}
