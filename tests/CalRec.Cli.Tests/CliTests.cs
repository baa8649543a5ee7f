using System.Text.Json;
using CalRec.Cli;
using CalRec.Models.Checkpoints;
using CalRec.Models.Decoder;
using CalRec.Text.Tokenization;
using Spectre.Console;

namespace CalRec.Cli.Tests;

[TestFixture]
[NonParallelizable]
public class CliTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "calrec-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    private static (int Code, string Out) Run(params string[] args)
    {
        TextWriter saved = Console.Out;
        IAnsiConsole savedAnsi = AnsiConsole.Console;
        var sw = new StringWriter();
        Console.SetOut(sw);
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(sw), Ansi = AnsiSupport.No, Interactive = InteractionSupport.No });
        try
        {
            int code = Program.BuildRoot().Parse(args).Invoke();
            return (code, sw.ToString());
        }
        finally
        {
            Console.SetOut(saved);
            AnsiConsole.Console = savedAnsi;
        }
    }

    [Test]
    public void TokenizerTrainThenEncodeJson()
    {
        string corpus = Path.Combine(_dir, "corpus.txt");
        File.WriteAllLines(corpus, Enumerable.Repeat("title: Gentle Cleanser; brand: Loti; category: beauty", 30));
        string tok = Path.Combine(_dir, "tok", "tokenizer.json");
        (int code, _) = Run("tokenizer", "train", "--corpus", corpus, "--vocab-size", "300", "--out", tok);
        Assert.That(code, Is.EqualTo(0));
        // Merges stop at 300 ids or when no pair is seen twice, whichever comes first.
        Assert.That(BpeTokenizer.FromFile(tok).VocabularySize, Is.InRange(280, 300));

        (code, string output) = Run("tokenizer", "encode", "--tokenizer", tok, "--text", "Gentle Cleanser", "--json");
        Assert.That(code, Is.EqualTo(0));
        using JsonDocument doc = JsonDocument.Parse(output);
        string joined = string.Concat(doc.RootElement.GetProperty("tokens").EnumerateArray().Select(e => e.GetString()));
        Assert.That(joined, Is.EqualTo("Gentle Cleanser"));
        Assert.That(doc.RootElement.GetProperty("ids").GetArrayLength(), Is.LessThan(6));
    }

    [Test]
    public void MissingCorpusIsAClearError()
    {
        (int code, string output) = Run("tokenizer", "train", "--corpus", Path.Combine(_dir, "nope.txt"), "--out", Path.Combine(_dir, "t.json"));
        Assert.That(code, Is.EqualTo(2));
        Assert.That(output, Does.Contain("nope.txt").And.Contain("does not exist"));
    }

    [Test]
    public void BenchPrintsJsonLines()
    {
        (int code, string output) = Run("bench", "train", "--config", "XS", "--steps", "1", "--json");
        Assert.That(code, Is.EqualTo(0));
        using JsonDocument doc = JsonDocument.Parse(output.Trim().Split('\n').Last());
        Assert.That(doc.RootElement.GetProperty("name").GetString(), Is.EqualTo("train-gpt2"));
        Assert.That(doc.RootElement.GetProperty("tokens_per_s").GetDouble(), Is.GreaterThan(0));
        Assert.That(doc.RootElement.GetProperty("threads").GetInt32(), Is.GreaterThan(0));

        (code, output) = Run("bench", "gemm", "--sizes", "64", "--json");
        Assert.That(code, Is.EqualTo(0));
        Assert.That(JsonDocument.Parse(output.Trim().Split('\n')[0]).RootElement.GetProperty("gflops").GetDouble(), Is.GreaterThan(0));
        Assert.That(Run("bench", "train", "--config", "Q").Code, Is.EqualTo(2));
    }

    [Test]
    public void DemoWritesALoadableModelThatLearned()
    {
        string outDir = Path.Combine(_dir, "demo");
        (int code, string output) = Run("demo", "--out", outDir, "--steps", "40");
        Assert.That(code, Is.EqualTo(0), output);
        (DecoderLM model, BpeTokenizer? tok) = HuggingFaceCheckpoint.Load(outDir);
        Assert.That(tok, Is.Not.Null);
        Assert.That(model.Config.VocabSize, Is.EqualTo(tok!.VocabularySize));
        var match = System.Text.RegularExpressions.Regex.Match(output, @"validation perplexity ([\d.]+) -> ([\d.]+)");
        Assert.That(match.Success, output);
        double before = double.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        double after = double.Parse(match.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(after, Is.LessThan(before / 10), "40 steps on the templated catalogue text cut perplexity by far more than 10x");

        (code, output) = Run("generate", "--model", outDir, "--prompt", "title:", "--beams", "3", "--max-new-tokens", "6", "--json");
        Assert.That(code, Is.EqualTo(0), output);
        var lines = output.Trim().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.That(lines, Has.Count.EqualTo(3));
        foreach (JsonElement line in lines)
        {
            int[] ids = line.GetProperty("token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
            Assert.That(ids, Has.Length.InRange(1, 6));
            Assert.That(line.GetProperty("text").GetString(), Is.EqualTo(tok.Decode(ids)));
            Assert.That(line.GetProperty("logprob").GetDouble(), Is.LessThan(0));
        }

        Assert.That(Run("generate", "--model", Path.Combine(_dir, "missing"), "--prompt", "x").Code, Is.EqualTo(2));
    }
}
