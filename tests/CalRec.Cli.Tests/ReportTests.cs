using System.Text.Json;
using System.Text.Json.Nodes;
using CalRec.Data;
using CalRec.Reports.Curves;

namespace CalRec.Cli.Tests;

[TestFixture]
[NonParallelizable]
public class ReportTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp() => _dir = Directory.CreateTempSubdirectory("calrec-report-").FullName;

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    [Test]
    public void TrainingWritesCurvesAndTheReportComparesModelsInOneSelfContainedPageThatABrowserRenders()
    {
        // One domain of the synthetic catalogue: every model has the same catalogue, and CALRec has no mixture.
        string db = Path.Combine(_dir, "office.db");
        Data.Storage.SqliteStore.Save(Data.Synthetic.SyntheticCatalog.Generate(new Data.Synthetic.SyntheticCatalogOptions { Seed = 4, UsersPerDomain = 90 }).ToDataset().ForDomain("office"), db);
        string pop = Path.Combine(_dir, "pop.zip"), sasrec = Path.Combine(_dir, "sasrec.zip"), calrec = Path.Combine(_dir, "calrec.zip");
        Expect(CliHarness.Run("train", "mostpop", "--target", db, "--out", pop));
        Expect(CliHarness.Run("train", "sasrec", "--target", db, "--hidden", "16", "--max-length", "10", "--epochs", "3", "--min-epochs", "3", "--out", sasrec));
        string config = Path.Combine(_dir, "calrec.json");
        File.WriteAllText(config, """
            { "backbone": "tiny", "vocabularySize": 400, "pretrainSteps": 10, "stage1": { "epochs": 1 }, "stage2": { "epochs": 1 },
              "maxHistory": 4, "maxItemTokens": 12, "validationUsers": 30, "evaluationsPerEpoch": 2, "members": 1 }
            """);
        Expect(CliHarness.Run("train", "calrec", "--target", db, "--config", config, "--out", calrec));

        // Training curves beside the models: one point per SASRec epoch; every CALRec step with its loss terms.
        Assert.That(File.Exists(TrainingCurveFile.PathFor(pop)), Is.False, "MostPopular has no training curve");
        IReadOnlyList<TrainingCurvePoint> sasCurve = TrainingCurveFile.Read(TrainingCurveFile.PathFor(sasrec));
        Assert.That(sasCurve.Select(p => p.Epoch), Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(sasCurve.Select(p => p.ValidationNdcg10), Has.All.Not.Null);
        IReadOnlyList<TrainingCurvePoint> calCurve = TrainingCurveFile.Read(TrainingCurveFile.PathFor(calrec));
        Assert.That(calCurve.Select(p => p.Phase).Distinct(), Is.EqualTo(new[] { "pretrain", "stage2" }));
        Assert.That(calCurve.Where(p => p.Phase == "stage2").Select(p => p.Terms.Keys.Order()), Has.All.EqualTo(new[] { "L_NIG", "L_TT", "L_UT" }));
        Assert.That(calCurve.Count(p => p.ValidationNdcg10 is not null), Is.GreaterThanOrEqualTo(2));
        Assert.That(calCurve.Select(p => p.Seconds), Is.Ordered);

        string report = Path.Combine(_dir, "report.html");
        (int code, string output) = CliHarness.Run("report", "html", "--data", db, "--model", $"popularity={pop}", "--model", sasrec, "--model", $"CALRec tiny={calrec}",
            "--grounding-users", "6", "--title", "Synthetic office", "--out", report);
        Assert.That(code, Is.EqualTo(0), output);
        string html = File.ReadAllText(report);
        File.Copy(report, Path.Combine(TestContext.CurrentContext.WorkDirectory, "report.html"), overwrite: true);

        // The metric table holds what `calrec evaluate` measures for the same model.
        (code, output) = CliHarness.Run("evaluate", "--model", sasrec, "--data", db, "--json");
        Assert.That(code, Is.EqualTo(0), output);
        double ndcg10 = JsonDocument.Parse(output).RootElement.GetProperty("ndcg@10").GetDouble();
        Assert.That(html, Does.Contain(ndcg10.ToString("F4", System.Globalization.CultureInfo.InvariantCulture)));
        Assert.That(html, Does.Contain("Paired differences against popularity").And.Contain("Grounding paths: CALRec tiny").And.Contain("BM25 quasi-round-robin"));
        Assert.That(html, Does.Not.Contain("<script").And.Not.Contain("src=\"http").And.Not.Contain("href=\"http"), "self-contained: no script, no network reference");

        string? chromium = HeadlessChromium.Find();
        if (chromium is null)
        {
            if (Environment.GetEnvironmentVariable("CI") == "true")
            {
                Assert.Fail("CI needs Debian's chromium for the browser test (.ci/run installs it).");
            }

            Assert.Ignore("chromium is not installed (apt-get install chromium); the page was checked without a browser.");
        }

        (JsonNode plots, List<string> errors, List<string> requests) = InBrowser(chromium, report).GetAwaiter().GetResult();
        Assert.That(errors, Is.Empty, "console errors");
        Assert.That(requests.Where(u => !u.StartsWith("file:", StringComparison.Ordinal)), Is.Empty, "the page loads nothing from the network");
        JsonArray svgs = plots.AsArray();
        Assert.That(svgs.Count, Is.GreaterThanOrEqualTo(9), "curves over K (2), paired differences, training (validation, 2 losses, throughput), domains, popularity, grounding");
        foreach (JsonNode? svg in svgs)
        {
            Assert.That((double)svg!["width"]!, Is.GreaterThan(300), svg.ToJsonString());
            Assert.That((double)svg["height"]!, Is.GreaterThan(200), svg.ToJsonString());
            Assert.That((int)svg["marks"]!, Is.GreaterThan(3), "each plot draws its data, not only axes: " + svg.ToJsonString());
        }
    }

    [Test]
    public void TheReportRefusesModelsWithDifferentCataloguesAndAMissingFolder()
    {
        string db = Path.Combine(_dir, "synthetic.db");
        Data.Storage.SqliteStore.Save(Data.Synthetic.SyntheticCatalog.Generate(new Data.Synthetic.SyntheticCatalogOptions { Seed = 4, UsersPerDomain = 30 }).ToDataset(), db);
        string office = Path.Combine(_dir, "office.zip"), all = Path.Combine(_dir, "all.zip");
        Data.Storage.SqliteStore.Save(Data.Synthetic.SyntheticCatalog.Generate(new Data.Synthetic.SyntheticCatalogOptions { Seed = 4, UsersPerDomain = 30 }).ToDataset().ForDomain("office"), Path.Combine(_dir, "office.db"));
        Expect(CliHarness.Run("train", "mostpop", "--target", Path.Combine(_dir, "office.db"), "--out", office));
        Expect(CliHarness.Run("train", "mostpop", "--target", db, "--out", all));
        (int code, string output) = CliHarness.Run("report", "html", "--data", db, "--model", all, "--model", office, "--out", Path.Combine(_dir, "r.html"));
        Assert.That(code, Is.EqualTo(2), output);
        Assert.That(output, Does.Contain("has a different catalogue").And.Not.Contain("   at "));
        (code, output) = CliHarness.Run("report", "html", "--data", db, "--model", all, "--out", Path.Combine(_dir, "missing", "r.html"));
        Assert.That(code, Is.EqualTo(2), output);
        Assert.That(output, Does.Contain("does not exist"));
        Assert.That(Directory.GetFiles(_dir, "*.html"), Is.Empty);
    }

    [Test]
    public void ThePeakMemorySamplerIsSafeToReadAfterItsDisposal()
    {
        // Its timer can fire once more after Dispose; that sample read the disposed process and crashed the test host.
        var sampler = new CalRec.Bench.PeakMemorySampler();
        double during = sampler.PeakMegabytes;
        sampler.Dispose();
        Assert.That(during, Is.GreaterThan(0));
        Assert.That(sampler.PeakMegabytes, Is.GreaterThanOrEqualTo(during));
    }

    private static void Expect((int Code, string Out) run) => Assert.That(run.Code, Is.EqualTo(0), run.Out);

    // Opens the report in headless Chromium: each SVG's size and number of drawn marks, the console errors, the URLs
    // requested; saves a screenshot with the test's results.
    private static async Task<(JsonNode Plots, List<string> Errors, List<string> Requests)> InBrowser(string chromium, string report)
    {
        await using HeadlessChromium browser = await HeadlessChromium.StartAsync(chromium);
        await browser.NavigateAsync(new Uri(report).AbsoluteUri);
        JsonNode plots = (await browser.EvaluateAsync("""
            [...document.querySelectorAll('figure > svg')].map(s => {
              const box = s.getBoundingClientRect();
              const marks = [...s.querySelectorAll('path, ellipse, rect')].filter(e => {
                const b = e.getBBox();
                return b.width * b.height > 0 || (b.width + b.height > 0 && getComputedStyle(e).stroke !== 'none');
              }).length;
              return { width: box.width, height: box.height, marks };
            })
            """))!;
        byte[] png = await browser.ScreenshotAsync();
        string shot = Path.Combine(TestContext.CurrentContext.WorkDirectory, "report-screenshot.png");
        await File.WriteAllBytesAsync(shot, png);
        TestContext.AddTestAttachment(shot, "the report as headless Chromium rendered it");
        Assert.That(png.Length, Is.GreaterThan(20_000), "a page of plots, not a blank image");
        return (plots, browser.Errors.ToList(), browser.Requests.ToList());
    }
}
