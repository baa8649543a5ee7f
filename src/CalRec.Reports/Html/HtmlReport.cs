using System.Globalization;
using System.Net;
using System.Text;
using CalRec.Recommenders.Evaluation;
using CalRec.Reports.Curves;

namespace CalRec.Reports.Html;

/// <summary>
/// Renders a <see cref="RunReport"/> as one self-contained HTML page: styles inline, plots as inline SVG, no script and
/// no network reference, so the file opens anywhere and can be archived beside the models it describes.
/// </summary>
public static class HtmlReport
{
    private const int MaxK = 50;

    /// <summary>Writes the page to <paramref name="path"/> atomically (a temporary file beside it, then a rename).</summary>
    public static void Save(RunReport report, string path)
    {
        string html = Render(report);
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full)!, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllText(temp, html, new UTF8Encoding(false));
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }

    /// <summary>The page.</summary>
    public static string Render(RunReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        var charts = new SvgCharts();
        var html = new StringBuilder();
        IReadOnlyList<ReportRun> runs = report.Runs;
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
            .Append("<title>").Append(E(report.Title)).Append("</title>\n<style>\n").Append(Style).Append("</style>\n</head>\n<body>\n");
        html.Append("<h1>").Append(E(report.Title)).Append("</h1>\n<p class=\"meta\">")
            .Append(E($"{report.Dataset}: {report.Protocol}. Intervals are bootstrap 95%. Made {report.CreatedUtc:yyyy-MM-dd HH:mm} UTC."))
            .Append("</p>\n");

        // Metrics with intervals.
        html.Append("<section id=\"metrics\">\n<h2>Test metrics</h2>\n<table>\n<thead><tr><th>model</th>");
        foreach (int k in ReportEvaluation.Ks)
        {
            html.Append("<th>NDCG@").Append(k).Append("</th>");
        }

        foreach (int k in ReportEvaluation.Ks)
        {
            html.Append("<th>HR@").Append(k).Append("</th>");
        }

        html.Append("<th>train time</th><th>epochs</th></tr></thead>\n<tbody>\n");
        foreach (ReportRun run in runs)
        {
            html.Append("<tr><td>").Append(E(run.Name)).Append("<br><small>").Append(E($"{run.Kind}, {Path.GetFileName(run.ModelPath)}")).Append("</small></td>");
            foreach (MetricWithInterval m in run.Metrics.Ndcg.Concat(run.Metrics.HitRate))
            {
                html.Append("<td>").Append(Interval(m)).Append("</td>");
            }

            html.Append("<td>").Append(E(Duration(run.Training.Seconds))).Append("</td><td>").Append(run.Training.Epochs).Append("</td></tr>\n");
        }

        html.Append("</tbody>\n</table>\n</section>\n");

        // Curves over K.
        int[] ks = Enumerable.Range(1, MaxK).ToArray();
        double[] kx = ks.Select(k => (double)k).ToArray();
        html.Append("<section id=\"over-k\">\n<h2>NDCG@K and HR@K over K</h2>\n<div class=\"plots\">\n");
        html.Append(Figure(charts.Lines("NDCG@K", "K", "NDCG@K", runs.Select((r, i) => (r.Name, kx, ks.Select(k => Ndcg(r.Metrics.Ranks, k)).ToArray(), i)))));
        html.Append(Figure(charts.Lines("HR@K", "K", "HR@K", runs.Select((r, i) => (r.Name, kx, ks.Select(k => HitRate(r.Metrics.Ranks, k)).ToArray(), i)))));
        html.Append("</div>\n</section>\n");

        // Paired differences against the first run.
        if (runs.Count > 1)
        {
            ReportRun reference = runs[0];
            var diffs = runs.Skip(1).Select(r => (Run: r, Ndcg: r.Metrics.CompareNdcg(reference.Metrics, 10))).ToList();
            html.Append("<section id=\"paired\">\n<h2>Paired differences against ").Append(E(reference.Name)).Append("</h2>\n")
                .Append("<p>NDCG@10 of each model minus the reference's, on the same users (paired bootstrap 95%); an interval that excludes 0 is unlikely to be noise.</p>\n<table>\n<thead><tr><th>model</th><th>NDCG@10 difference</th><th>relative</th></tr></thead>\n<tbody>\n");
            foreach ((ReportRun run, MetricWithInterval d) in diffs)
            {
                double baseValue = reference.Metrics["ndcg@10"].Value;
                html.Append("<tr><td>").Append(E(run.Name)).Append("</td><td>").Append(Signed(d)).Append("</td><td>")
                    .Append(baseValue > 0 ? E((d.Value / baseValue).ToString("+0.0%;-0.0%", CultureInfo.InvariantCulture)) : "–").Append("</td></tr>\n");
            }

            html.Append("</tbody>\n</table>\n<div class=\"plots\">\n");
            html.Append(Figure(charts.Bars($"NDCG@10 minus {reference.Name}", "difference", ["NDCG@10"],
                diffs.Select((x, i) => (x.Run.Name, new[] { x.Ndcg.Value }, (double[]?)[x.Ndcg.Low], (double[]?)[x.Ndcg.High], i + 1)).ToList(), zeroLine: true)));
            html.Append("</div>\n</section>\n");
        }

        AppendTrainingCurves(html, charts, runs);

        // Per-domain breakdown.
        string[] domains = runs.SelectMany(r => r.Domains.Select(d => d.Domain)).Distinct(StringComparer.Ordinal).ToArray();
        html.Append("<section id=\"domains\">\n<h2>By domain of the target item</h2>\n<table>\n<thead><tr><th>model</th>");
        foreach (string domain in domains)
        {
            html.Append("<th>").Append(E(domain)).Append(" NDCG@10</th>");
        }

        html.Append("</tr></thead>\n<tbody>\n");
        foreach (ReportRun run in runs)
        {
            html.Append("<tr><td>").Append(E(run.Name)).Append("</td>");
            foreach (string domain in domains)
            {
                RecommendationMetrics? m = run.Domains.FirstOrDefault(d => d.Domain == domain).Metrics;
                html.Append("<td>").Append(m is null ? "–" : Interval(m["ndcg@10"]) + $" <small>({m.Users:N0} users)</small>").Append("</td>");
            }

            html.Append("</tr>\n");
        }

        html.Append("</tbody>\n</table>\n<div class=\"plots\">\n");
        html.Append(Figure(charts.Bars("NDCG@10 by domain", "NDCG@10", domains, runs.Select((r, i) =>
        {
            MetricWithInterval[] m = domains.Select(d => r.Domains.FirstOrDefault(x => x.Domain == d).Metrics?["ndcg@10"] ?? new MetricWithInterval(double.NaN, double.NaN, double.NaN)).ToArray();
            return (r.Name, m.Select(x => double.IsNaN(x.Value) ? 0 : x.Value).ToArray(), (double[]?)m.Select(x => x.Low).ToArray(), (double[]?)m.Select(x => x.High).ToArray(), i);
        }).ToList())));
        html.Append("</div>\n</section>\n");

        // Popularity bias.
        string[] deciles = Enumerable.Range(1, 10).Select(d => d.ToString(CultureInfo.InvariantCulture)).ToArray();
        html.Append("<section id=\"popularity\">\n<h2>Popularity bias</h2>\n<p>Share of the top-10 recommendations in each item-popularity decile (1: the most popular tenth of the catalogue, by interactions before the test items), against the share of the test targets in each decile.</p>\n<div class=\"plots\">\n");
        var popularity = new List<(string, double[], double[]?, double[]?, int)> { ("test targets", report.TargetByPopularityDecile, null, null, runs.Count) };
        popularity.AddRange(runs.Select((r, i) => (r.Name, r.RecommendedByPopularityDecile, (double[]?)null, (double[]?)null, i)));
        html.Append(Figure(charts.Bars("Top-10 slots by item-popularity decile", "share", deciles, popularity)));
        html.Append("</div>\n<table>\n<thead><tr><th></th>");
        foreach (string d in deciles)
        {
            html.Append("<th>decile ").Append(d).Append("</th>");
        }

        html.Append("</tr></thead>\n<tbody>\n");
        foreach ((string label, double[] shares, _, _, _) in popularity)
        {
            html.Append("<tr><td>").Append(E(label)).Append("</td>");
            foreach (double s in shares)
            {
                html.Append("<td>").Append(E(s.ToString("P1", CultureInfo.InvariantCulture))).Append("</td>");
            }

            html.Append("</tr>\n");
        }

        html.Append("</tbody>\n</table>\n</section>\n");

        AppendGrounding(html, charts, runs);

        // Settings.
        html.Append("<section id=\"settings\">\n<h2>Training settings</h2>\n");
        foreach (ReportRun run in runs)
        {
            html.Append("<details><summary>").Append(E(run.Name)).Append("</summary>\n<table>\n<tbody>\n");
            foreach ((string key, string value) in run.Training.Settings.OrderBy(kv => kv.Key, StringComparer.Ordinal))
            {
                html.Append("<tr><td>").Append(E(key)).Append("</td><td>").Append(E(value)).Append("</td></tr>\n");
            }

            html.Append("</tbody>\n</table>\n</details>\n");
        }

        html.Append("</section>\n</body>\n</html>\n");
        return html.ToString();
    }

    private static void AppendTrainingCurves(StringBuilder html, SvgCharts charts, IReadOnlyList<ReportRun> runs)
    {
        html.Append("<section id=\"training\">\n<h2>Training curves</h2>\n");
        if (runs.All(r => r.Curve.Count == 0))
        {
            html.Append("<p>No run has a metrics file beside its model (training writes <code>MODEL.metrics.jsonl</code> as it goes).</p>\n</section>\n");
            return;
        }

        html.Append("<p>From the metrics file each training run wrote beside its model; x is minutes since the run started (every phase).</p>\n<div class=\"plots\">\n");
        html.Append(Figure(charts.Lines("Validation NDCG@10", "minutes", "NDCG@10", runs.Select((r, i) =>
        {
            TrainingCurvePoint[] v = r.Curve.Where(p => p.ValidationNdcg10 is not null).ToArray();
            return (r.Name, v.Select(p => p.Seconds / 60).ToArray(), v.Select(p => p.ValidationNdcg10!.Value).ToArray(), i);
        }), markers: true)));
        for (int i = 0; i < runs.Count; i++)
        {
            ReportRun run = runs[i];
            if (run.Curve.Count == 0)
            {
                continue;
            }

            string[] terms = run.Curve.SelectMany(p => p.Terms.Keys).Distinct(StringComparer.Ordinal).ToArray();
            var series = new List<(string, double[], double[], int)> { ("loss", Minutes(run.Curve), Smooth(run.Curve.Select(p => p.Loss).ToArray()), 0) };
            for (int t = 0; t < terms.Length; t++)
            {
                TrainingCurvePoint[] with = run.Curve.Where(p => p.Terms.ContainsKey(terms[t])).ToArray();
                series.Add((terms[t], Minutes(with), Smooth(with.Select(p => p.Terms[terms[t]]).ToArray()), t + 1));
            }

            html.Append(Figure(charts.Lines($"{run.Name}: training loss and its terms (moving average)", "minutes", "loss", series)));
        }

        var rates = runs.Select((r, i) => (r, i)).Where(x => x.r.Curve.Any(p => p.TokensPerSecond is not null)).ToList();
        if (rates.Count > 0)
        {
            html.Append(Figure(charts.Lines("Training throughput", "minutes", "tokens/s", rates.Select(x =>
            {
                TrainingCurvePoint[] v = x.r.Curve.Where(p => p.TokensPerSecond is not null).ToArray();
                return (x.r.Name, v.Select(p => p.Seconds / 60).ToArray(), v.Select(p => p.TokensPerSecond!.Value).ToArray(), x.i);
            }))));
        }

        html.Append("</div>\n</section>\n");
    }

    private static void AppendGrounding(StringBuilder html, SvgCharts charts, IReadOnlyList<ReportRun> runs)
    {
        foreach (ReportRun run in runs.Where(r => r.Grounding.Count > 0))
        {
            html.Append("<section class=\"grounding\">\n<h2>Grounding paths: ").Append(E(run.Name)).Append("</h2>\n<p>")
                .Append(E($"Each path on the same seeded sample of {run.Grounding[0].Metrics.Users:N0} test users; generation-based paths cost far more per user than dense retrieval."))
                .Append("</p>\n<table>\n<thead><tr><th>path</th><th>NDCG@10</th><th>HR@10</th><th>seconds / 1,000 users</th></tr></thead>\n<tbody>\n");
            foreach (GroundingPathResult g in run.Grounding)
            {
                html.Append("<tr><td>").Append(E(g.Path)).Append("</td><td>").Append(Interval(g.Metrics["ndcg@10"])).Append("</td><td>").Append(Interval(g.Metrics["hr@10"]))
                    .Append("</td><td>").Append(E(g.SecondsPerThousandUsers.ToString("F1", CultureInfo.InvariantCulture))).Append("</td></tr>\n");
            }

            html.Append("</tbody>\n</table>\n<div class=\"plots\">\n");
            html.Append(Figure(charts.Bars("NDCG@10 by grounding path", "NDCG@10", run.Grounding.Select(g => g.Path).ToArray(),
                [("NDCG@10", run.Grounding.Select(g => g.Metrics["ndcg@10"].Value).ToArray(), run.Grounding.Select(g => g.Metrics["ndcg@10"].Low).ToArray(),
                    run.Grounding.Select(g => g.Metrics["ndcg@10"].High).ToArray(), 0)])));
            html.Append("</div>\n</section>\n");
        }
    }

    internal static double Ndcg(IReadOnlyList<int> ranks, int k) => ranks.Count == 0 ? 0 : ranks.Sum(r => r < k ? 1.0 / Math.Log2(r + 2) : 0.0) / ranks.Count;

    internal static double HitRate(IReadOnlyList<int> ranks, int k) => ranks.Count == 0 ? 0 : ranks.Count(r => r < k) / (double)ranks.Count;

    private static double[] Minutes(IReadOnlyList<TrainingCurvePoint> points) => points.Select(p => p.Seconds / 60).ToArray();

    // A centred moving average over about 1/50 of the points: per-step losses are noisy.
    private static double[] Smooth(double[] values)
    {
        int half = Math.Max(0, values.Length / 100);
        double[] result = new double[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            int from = Math.Max(0, i - half), to = Math.Min(values.Length - 1, i + half);
            double sum = 0;
            int n = 0;
            for (int j = from; j <= to; j++)
            {
                if (double.IsFinite(values[j]))
                {
                    sum += values[j];
                    n++;
                }
            }

            result[i] = n == 0 ? double.NaN : sum / n;
        }

        return result;
    }

    private static string Figure(string svg) => "<figure>" + svg + "</figure>\n";

    private static string Interval(MetricWithInterval m) => double.IsNaN(m.Low)
        ? E(m.Value.ToString("F4", CultureInfo.InvariantCulture))
        : E(m.Value.ToString("F4", CultureInfo.InvariantCulture)) + " <small>[" + E(m.Low.ToString("F4", CultureInfo.InvariantCulture)) + ", " + E(m.High.ToString("F4", CultureInfo.InvariantCulture)) + "]</small>";

    private static string Signed(MetricWithInterval m) => E(string.Create(CultureInfo.InvariantCulture, $"{m.Value:+0.0000;-0.0000} [{m.Low:+0.0000;-0.0000}, {m.High:+0.0000;-0.0000}]"));

    private static string Duration(double seconds) => seconds < 120
        ? string.Create(CultureInfo.InvariantCulture, $"{seconds:F0} s")
        : string.Create(CultureInfo.InvariantCulture, $"{seconds / 60:F1} min");

    private static string E(string text) => WebUtility.HtmlEncode(text);

    private const string Style = """
        body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1600px; padding: 0 1rem; color: #222; }
        h1 { font-size: 1.6rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
        .meta { color: #555; }
        table { border-collapse: collapse; margin: 0.5rem 0; font-size: 0.9rem; }
        th, td { border: 1px solid #ddd; padding: 0.25rem 0.5rem; text-align: left; vertical-align: top; }
        th { background: #f4f4f4; } small { color: #666; }
        .plots { display: flex; flex-wrap: wrap; gap: 1rem; }
        figure { margin: 0; }
        details { margin: 0.25rem 0; }

        """;
}
