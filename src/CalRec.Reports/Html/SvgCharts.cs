using System.Text.RegularExpressions;
using ScottPlot;

namespace CalRec.Reports.Html;

/// <summary>The report's plots, drawn with ScottPlot as SVG for inlining into one HTML page.</summary>
internal sealed partial class SvgCharts
{
    internal const int Width = 760;
    internal const int Height = 380;

    private static readonly IPalette Palette = new ScottPlot.Palettes.Category10();
    private int _count;

    internal static Color ColorOf(int series) => Palette.GetColor(series);

    /// <summary>Lines over a shared x axis, one per series.</summary>
    internal string Lines(string title, string xLabel, string yLabel, IEnumerable<(string Label, double[] X, double[] Y, int Color)> series, bool markers = false)
    {
        var plot = new Plot();
        foreach ((string label, double[] x, double[] y, int color) in series)
        {
            if (x.Length == 0)
            {
                continue;
            }

            var line = plot.Add.Scatter(x, y);
            line.LegendText = label;
            line.Color = ColorOf(color);
            line.LineWidth = 2;
            line.MarkerSize = markers ? 5 : 0;
        }

        return Finish(plot, title, xLabel, yLabel, legend: true);
    }

    /// <summary>
    /// Grouped bars: for each category (x tick), one bar per series with an optional interval [low, high] drawn as a
    /// whisker; <paramref name="zeroLine"/> draws y = 0 (for differences).
    /// </summary>
    internal string Bars(string title, string yLabel, IReadOnlyList<string> categories, IReadOnlyList<(string Label, double[] Values, double[]? Low, double[]? High, int Color)> series,
        bool zeroLine = false)
    {
        var plot = new Plot();
        int groups = series.Count;
        double width = 0.8 / Math.Max(1, groups);
        var bars = new List<Bar>();
        for (int s = 0; s < groups; s++)
        {
            (_, double[] values, _, _, int color) = series[s];
            for (int c = 0; c < categories.Count; c++)
            {
                bars.Add(new Bar { Position = Offset(c, s), Value = values[c], FillColor = ColorOf(color), Size = width * 0.9 });
            }
        }

        // Bars first, whiskers over them.
        plot.Add.Bars(bars);
        for (int s = 0; s < groups; s++)
        {
            (string label, _, double[]? low, double[]? high, int color) = series[s];
            for (int c = 0; c < categories.Count; c++)
            {
                double x = Offset(c, s);
                if (low is not null && high is not null && double.IsFinite(low[c]) && double.IsFinite(high[c]))
                {
                    var whisker = plot.Add.Line(x, low[c], x, high[c]);
                    whisker.LineWidth = 2;
                    whisker.Color = Colors.Black;
                    whisker.MarkerSize = 0;
                }
            }

            if (groups > 1 || zeroLine)
            {
                plot.Legend.ManualItems.Add(new LegendItem { LabelText = label, FillColor = ColorOf(color) });
            }
        }

        if (zeroLine)
        {
            var zero = plot.Add.HorizontalLine(0);
            zero.Color = Colors.Black;
            zero.LineWidth = 1;
        }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, categories.Count).Select(i => (double)i).ToArray(), [.. categories]);
        plot.Axes.Bottom.MajorTickStyle.Length = 0;
        plot.Axes.Margins(bottom: zeroLine ? 0.1 : 0);
        return Finish(plot, title, string.Empty, yLabel, legend: groups > 1 || zeroLine);

        double Offset(int category, int s) => category + ((s - ((groups - 1) / 2.0)) * width);
    }

    private string Finish(Plot plot, string title, string xLabel, string yLabel, bool legend)
    {
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        if (legend)
        {
            // Beside the data area, where it hides no point.
            plot.ShowLegend(Edge.Right);
        }

        string svg = plot.GetSvgXml(Width, Height);
        _count++;
        return Isolate(svg, $"plot{_count}-");
    }

    /// <summary>
    /// Strips the XML declaration and renames every id of one SVG (clip paths and the like) to the prefix plus its
    /// order of appearance: several SVGs inlined into one page share one id space, and ScottPlot numbers its ids from a
    /// process-wide counter, which would make the same report differ from run to run.
    /// </summary>
    internal static string Isolate(string svg, string prefix)
    {
        svg = XmlDeclaration().Replace(svg, string.Empty);
        var names = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (Match m in IdAttribute().Matches(svg))
        {
            names.TryAdd(m.Groups[1].Value, prefix + names.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        string Name(string id) => names.TryGetValue(id, out string? name) ? name : id;
        svg = IdAttribute().Replace(svg, m => $"id=\"{Name(m.Groups[1].Value)}\"");
        svg = UrlReference().Replace(svg, m => $"url(#{Name(m.Groups[1].Value)})");
        return HrefReference().Replace(svg, m => $"{m.Groups[1].Value}=\"#{Name(m.Groups[2].Value)}\"");
    }

    [GeneratedRegex(@"<\?xml[^>]*\?>\s*")]
    private static partial Regex XmlDeclaration();

    [GeneratedRegex("\\bid=\"([^\"]+)\"")]
    private static partial Regex IdAttribute();

    [GeneratedRegex(@"url\(#([^)]+)\)")]
    private static partial Regex UrlReference();

    [GeneratedRegex("(xlink:href|href)=\"#([^\"]+)\"")]
    private static partial Regex HrefReference();
}
