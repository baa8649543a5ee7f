using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using CalRec.Data;

namespace CalRec.Reports.Curves;

/// <summary>
/// The training-curve file written beside a model as training goes (<c>model.zip</c> → <c>model.metrics.jsonl</c>): one
/// JSON object per step or epoch, flushed line by line so that an interrupted run keeps what it measured, and appended
/// to when the run resumes. <c>calrec report html</c> draws its training curves from it.
/// </summary>
public static class TrainingCurveFile
{
    /// <summary>The metrics file of the model at <paramref name="modelPath"/>.</summary>
    public static string PathFor(string modelPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(modelPath);
        string name = Path.GetFileName(modelPath);
        string stem = name.EndsWith(".zip", StringComparison.OrdinalIgnoreCase) ? name[..^4] : name;
        return Path.Combine(Path.GetDirectoryName(Path.GetFullPath(modelPath))!, stem + ".metrics.jsonl");
    }

    /// <summary>Opens the metrics file of <paramref name="modelPath"/> for writing: a new file, or appended to when resuming.</summary>
    public static TrainingCurveWriter Create(string modelPath, bool append) => new(PathFor(modelPath), append);

    /// <summary>Reads a metrics file; a malformed line fails naming the file, line and field.</summary>
    public static IReadOnlyList<TrainingCurvePoint> Read(string path)
    {
        var points = new List<TrainingCurvePoint>();
        int line = 0;
        foreach (string text in File.ReadLines(path))
        {
            line++;
            if (string.IsNullOrWhiteSpace(text))
            {
                continue;
            }

            JsonObject o;
            try
            {
                o = JsonNode.Parse(text) as JsonObject ?? throw new DataFormatException(path, line, "(line)", "expected a JSON object");
            }
            catch (JsonException e)
            {
                throw new DataFormatException(path, line, "(line)", $"not JSON: {e.Message}");
            }

            var terms = new Dictionary<string, double>(StringComparer.Ordinal);
            if (o["terms"] is JsonObject t)
            {
                foreach ((string key, JsonNode? value) in t)
                {
                    terms[key] = Number(value, path, line, "terms." + key) ?? double.NaN;
                }
            }

            points.Add(new TrainingCurvePoint(
                o["phase"]?.GetValueKind() == JsonValueKind.String ? o["phase"]!.GetValue<string>() : throw new DataFormatException(path, line, "phase", "missing or not a string"),
                (int)(Number(o["epoch"], path, line, "epoch") ?? 0),
                (int)(Number(o["step"], path, line, "step") ?? throw new DataFormatException(path, line, "step", "missing")),
                Number(o["seconds"], path, line, "seconds") ?? throw new DataFormatException(path, line, "seconds", "missing"),
                Number(o["loss"], path, line, "loss") ?? double.NaN,
                terms,
                Number(o["tokens_per_second"], path, line, "tokens_per_second"),
                Number(o["validation_ndcg10"], path, line, "validation_ndcg10")));
        }

        return points;
    }

    private static double? Number(JsonNode? node, string path, int line, string field)
    {
        if (node is null)
        {
            return null;
        }

        return node.GetValueKind() == JsonValueKind.Number
            ? node.GetValue<double>()
            : throw new DataFormatException(path, line, field, $"expected a number, got {node.ToJsonString()}");
    }

    internal static string Format(TrainingCurvePoint p)
    {
        var o = new JsonObject
        {
            ["phase"] = p.Phase,
            ["epoch"] = p.Epoch,
            ["step"] = p.Step,
            ["seconds"] = Math.Round(p.Seconds, 3),
        };
        if (double.IsFinite(p.Loss))
        {
            o["loss"] = p.Loss;
        }

        var terms = new JsonObject();
        foreach ((string name, double value) in p.Terms)
        {
            if (double.IsFinite(value))
            {
                terms[name] = value;
            }
        }

        o["terms"] = terms;
        if (p.TokensPerSecond is double rate && double.IsFinite(rate))
        {
            o["tokens_per_second"] = Math.Round(rate, 1);
        }

        if (p.ValidationNdcg10 is double ndcg)
        {
            o["validation_ndcg10"] = ndcg;
        }

        return o.ToJsonString();
    }
}

/// <summary>Appends <see cref="TrainingCurvePoint"/>s to a metrics file, one flushed line each.</summary>
public sealed class TrainingCurveWriter : IDisposable
{
    private readonly StreamWriter _writer;

    internal TrainingCurveWriter(string path, bool append)
    {
        Path = path;
        _writer = new StreamWriter(new FileStream(path, append ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.Read), new UTF8Encoding(false));
    }

    /// <summary>The file written.</summary>
    public string Path { get; }

    /// <summary>Appends one point and flushes it to disk.</summary>
    public void Append(TrainingCurvePoint point)
    {
        ArgumentNullException.ThrowIfNull(point);
        _writer.Write(TrainingCurveFile.Format(point));
        _writer.Write('\n');
        _writer.Flush();
    }

    /// <summary>Closes the file.</summary>
    public void Dispose() => _writer.Dispose();
}
