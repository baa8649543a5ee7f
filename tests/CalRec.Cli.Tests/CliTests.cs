using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using CalRec.Cli;
using CalRec.Cli.Options;
using CalRec.Models.Checkpoints;
using CalRec.Models.Decoder;
using CalRec.Recommenders;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Grounding;
using CalRec.Text.Tokenization;
using CalRec.Torch.Devices;
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

    // A seeded synthetic catalogue saved as synthetic.db in the test folder; returns the database path.
    private string SyntheticDb(ulong seed, int usersPerDomain) => SyntheticDb(seed, usersPerDomain, out _);

    private string SyntheticDb(ulong seed, int usersPerDomain, out Data.InteractionDataset data)
    {
        string db = Path.Combine(_dir, "synthetic.db");
        data = Data.Synthetic.SyntheticCatalog.Generate(new Data.Synthetic.SyntheticCatalogOptions { Seed = seed, UsersPerDomain = usersPerDomain }).ToDataset();
        Data.Storage.SqliteStore.Save(data, db);
        return db;
    }

    private static (int Code, string Out) Run(params string[] args) => CliHarness.Run(args);

    [Test]
    public void ASecondRunWritingTheSameOutputIsRefusedWithTheFirstOnesProcessId()
    {
        string db = SyntheticDb(4, 30);
        string model = Path.Combine(_dir, "pop.zip");
        using (OutputLock.Acquire(model))
        {
            (int code, string output) = Run("train", "mostpop", "--target", db, "--out", model);
            Assert.That(code, Is.EqualTo(2), output);
            Assert.That(output, Does.Contain($"process {Environment.ProcessId} is already writing this output"));
            Assert.That(File.Exists(model), Is.False);
        }

        Assert.That(Run("train", "mostpop", "--target", db, "--out", model).Code, Is.EqualTo(0), "the lock is gone with its holder");
        Assert.That(Directory.GetFiles(_dir, ".pop.zip.lock*"), Is.Empty);
    }

    [Test]
    public void AFailureOfTheMachineIsOneLineWithExitCode1AndTheHelpListsTheExitCodes()
    {
        string db = SyntheticDb(4, 30);
        string taken = Path.Combine(_dir, "taken.zip");
        Directory.CreateDirectory(taken);
        File.WriteAllText(Path.Combine(taken, "keep.txt"), "a folder where the model file should go");
        (int code, string output) = Run("train", "mostpop", "--target", db, "--out", taken);
        Assert.That(code, Is.EqualTo(1), output);
        Assert.That(output, Does.Contain("error:").And.Not.Contain("   at "));
        Assert.That(File.ReadAllText(Path.Combine(taken, "keep.txt")), Does.StartWith("a folder"), "nothing overwritten");
        Assert.That(Run("--help").Out, Does.Contain("Exit codes: 0 done; 1").And.Contain("130 cancelled"));
    }

    [Test]
    public void DoctorReportsBothEnginesAndTheBackendAutoPicks()
    {
        (int code, string output) = Run("doctor");
        Assert.That(code, Is.Zero, output);
        Assert.That(output, Does.Contain("managed engine threads").And.Contain("LibTorch").And.Contain("2.10").And.Contain("CUDA available"));
        Assert.That(output, Does.Match(@"default backend\s*│?\s*(Managed|TorchSharp)"));

        // SASRec trained on the TorchSharp engine is an ordinary model zip.
        string db = SyntheticDb(4, 40);
        string model = Path.Combine(_dir, "sasrec-torch.zip");
        (code, output) = Run("train", "sasrec", "--target", db, "--hidden", "16", "--max-length", "10", "--epochs", "2", "--min-epochs", "2", "--backend", "torchsharp", "--out", model);
        Assert.That(code, Is.Zero, output);
        (code, output) = Run("evaluate", "--model", model, "--data", db, "--json");
        Assert.That(code, Is.Zero, output);
        Assert.That(JsonDocument.Parse(output).RootElement.GetProperty("epochs").GetInt32(), Is.EqualTo(2));
    }

    [TestCase(ComputeBackend.Auto, null, false)]
    [TestCase(ComputeBackend.Managed, null, false)]
    [TestCase(ComputeBackend.TorchSharp, null, true)]
    [TestCase(ComputeBackend.Auto, 0, true)]
    public void OnlyTorchSharpOrAGpuNeedsTorchSharpsNativeLibrary(ComputeBackend backend, int? gpu, bool needs) =>
        Assert.That(BackendArguments.NeedsTorchSharp(backend, gpu), Is.EqualTo(needs), "a machine where TorchSharp cannot load still trains on our engine");

    [Test]
    public void PretrainWithoutConfigUsesTheBuiltInSmallPresetFromAnyFolder()
    {
        string corpus = Path.Combine(_dir, "corpus.txt");
        File.WriteAllLines(corpus, Enumerable.Range(0, 200).Select(i => $"title: item {i % 17}; brand: brand {i % 5}"));
        string saved = Environment.CurrentDirectory;
        Environment.CurrentDirectory = _dir; // no models/ folder here
        try
        {
            (int code, string output) = Run("pretrain", "--corpus", corpus, "--vocab-size", "300", "--steps", "2", "--seq-len", "16", "--batch-size", "2", "--out", Path.Combine(_dir, "lm"));
            Assert.That(code, Is.Zero, output);
            Assert.That(output, Does.Contain("parameters"));
        }
        finally
        {
            Environment.CurrentDirectory = saved;
        }
    }

    [Test]
    public void DataStatsJsonIsPureJsonWithWarningsOnStandardError()
    {
        string folder = Path.Combine(_dir, "warned");
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "items.tsv"), "item_id\ttitle\textra\na\tA\t\nb\tB\t\n");
        File.WriteAllText(Path.Combine(folder, "sequences.jsonl"), "{\"user\": \"u1\", \"items\": [\"a\", \"nope\", \"b\"]}\n{\"user\": \"u2\", \"items\": [\"b\", \"a\"]}\n");
        TextWriter savedError = Console.Error;
        var errors = new StringWriter();
        Console.SetError(errors);
        try
        {
            (int code, string output) = Run("data", "stats", "--data", folder, "--json", "--skip-bad");
            Assert.That(code, Is.EqualTo(0), output);
            foreach (string line in output.Split('\n', StringSplitOptions.RemoveEmptyEntries))
            {
                Assert.DoesNotThrow(() => JsonDocument.Parse(line), line);
            }

            Assert.That(errors.ToString(), Does.Contain("warning: ").And.Contain("nope"));
        }
        finally
        {
            Console.SetError(savedError);
        }
    }

    [Test]
    public void ImportTrainEvaluateRecommendAndScore()
    {
        string db = SyntheticDb(4, 150);
        (int code, string output) = Run("data", "stats", "--data", db, "--json");
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(output.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.GreaterThan(2), "overall plus one line per domain");

        string model = Path.Combine(_dir, "sasrec.zip");
        (code, output) = Run("train", "sasrec", "--target", db, "--out", model, "--hidden", "16", "--max-length", "10", "--epochs", "2", "--min-epochs", "0");
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(output, Does.Contain("epoch 2"));
        double bestValidation = Regex.Matches(output, @"\(best (\d\.\d{4})\)").Select(x => double.Parse(x.Groups[1].Value, CultureInfo.InvariantCulture)).Last();

        // The validation split is what model selection saw: the saved (best) weights score exactly the best validation NDCG@10.
        (code, string validation) = Run("evaluate", "--model", model, "--data", db, "--split", "validation", "--json");
        Assert.That(code, Is.EqualTo(0), validation);
        using (JsonDocument doc = JsonDocument.Parse(validation))
        {
            Assert.That(doc.RootElement.GetProperty("split").GetString(), Is.EqualTo("validation"));
            Assert.That(doc.RootElement.GetProperty("users").GetInt32(), Is.EqualTo(450));
            Assert.That(doc.RootElement.GetProperty("ndcg@10").GetDouble(), Is.EqualTo(bestValidation).Within(6e-5));
        }

        (code, output) = Run("evaluate", "--model", model, "--data", db, "--split", "validation", "--tune-prior");
        Assert.That(code, Is.EqualTo(2), output);
        Assert.That(output, Does.Contain("--split validation: the --tune options choose their weights on the validation users"));

        (code, output) = Run("evaluate", "--model", model, "--data", db, "--json", "--by-domain");
        Assert.That(code, Is.EqualTo(0), output);
        using (JsonDocument doc = JsonDocument.Parse(output))
        {
            JsonElement root = doc.RootElement;
            Assert.That(root.GetProperty("users").GetInt32(), Is.EqualTo(450));
            Assert.That(root.GetProperty("ndcg@10").GetDouble(), Is.InRange(0.0, 1.0));
            Assert.That(root.GetProperty("hr@10").GetDouble(), Is.GreaterThanOrEqualTo(root.GetProperty("ndcg@10").GetDouble()));
            Assert.That(root.GetProperty("protocol").GetString(), Is.EqualTo("full ranking, seen items excluded"));
            Assert.That(root.GetProperty("split").GetString(), Is.EqualTo("test"));
            Assert.That(root.GetProperty("domains").EnumerateObject().Sum(d => d.Value.GetProperty("users").GetInt32()), Is.EqualTo(450));
        }

        string pop = Path.Combine(_dir, "pop.zip");
        Assert.That(Run("train", "mostpop", "--target", db, "--out", pop).Code, Is.EqualTo(0));
        (code, output) = Run("evaluate", "--model", model, "--data", db, "--json", "--against", pop);
        Assert.That(code, Is.EqualTo(0), output);
        using (JsonDocument doc = JsonDocument.Parse(output))
        {
            double[] diff = doc.RootElement.GetProperty("ndcg@10_minus_against").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            double popNdcg = JsonDocument.Parse(Run("evaluate", "--model", pop, "--data", db, "--json").Out).RootElement.GetProperty("ndcg@10").GetDouble();
            Assert.That(diff[0], Is.EqualTo(doc.RootElement.GetProperty("ndcg@10").GetDouble() - popNdcg).Within(1e-4), "paired difference of the means");
            Assert.That(diff[1], Is.LessThanOrEqualTo(diff[0]));
            Assert.That(diff[2], Is.GreaterThanOrEqualTo(diff[0]));
        }

        var data = Data.Storage.SqliteStore.Load(db);
        string history = string.Join(",", data.Sequences[0].Take(3).Select(i => data.Items[i].Id));
        (code, output) = Run("recommend", "--model", model, "--history", history, "--k", "4", "--json");
        Assert.That(code, Is.EqualTo(0), output);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(4));
        Assert.That(lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("id").GetString()), Has.None.AnyOf(history.Split(',')));

        string input = Path.Combine(_dir, "histories.jsonl");
        File.WriteAllLines(input, ["{\"user\": \"a\", \"items\": [\"" + data.Items[0].Id + "\"]}", "{\"user\": \"b\", \"items\": [\"" + data.Items[1].Id + "\"]}"]);
        string scored = Path.Combine(_dir, "recs.jsonl");
        (code, output) = Run("score", "--model", model, "--input", input, "--out", scored, "--k", "3");
        Assert.That(code, Is.EqualTo(0), output);
        string[] rows = File.ReadAllLines(scored);
        Assert.That(rows.Select(r => JsonDocument.Parse(r).RootElement.GetProperty("UserId").GetString()), Is.EqualTo(new[] { "a", "b" }));
        Assert.That(JsonDocument.Parse(rows[0]).RootElement.GetProperty("PredictedItemIds").GetArrayLength(), Is.EqualTo(3));
        Assert.That(JsonDocument.Parse(rows[0]).RootElement.GetProperty("Scores").GetArrayLength(), Is.EqualTo(3));
        string parquet = Path.Combine(_dir, "recs.parquet");
        (code, output) = Run("score", "--model", model, "--input", input, "--out", parquet);
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(output, Does.Contain("scored 2 users"));
        (code, output) = Run("score", "--model", model, "--input", input, "--out", Path.Combine(_dir, "missing", "x.parquet"));
        Assert.That(code, Is.EqualTo(2));
        Assert.That(output, Does.Contain("does not exist"));

        (code, output) = Run("evaluate", "--model", model, "--data", db, "--users", "-5");
        Assert.That(code, Is.EqualTo(2), output);
        Assert.That(output, Does.Contain("--users: -5 is not a number of users"));

        (code, output) = Run("recommend", "--model", model, "--history", "nope");
        Assert.That(code, Is.EqualTo(2));
        Assert.That(output, Does.Contain("'nope' (position 1) is not in the model's catalogue"));
        (code, output) = Run("train", "llmseqsim", "--target", db, "--out", Path.Combine(_dir, "x.zip"));
        Assert.That(code, Is.EqualTo(2));
        Assert.That(output, Does.Contain("needs --lm"));
        Assert.That(File.Exists(Path.Combine(_dir, "x.zip")), Is.False);

        // LLM2SASRec on TorchSharp: the item texts are embedded there too (TorchTextEmbedder), then SASRec trains.
        string lm = Path.Combine(_dir, "lm");
        ByteLevelBpeTokenizer tok = ByteLevelBpeTokenizer.Train(data.Items.Select(i => i.ToText()).ToList(), new BpeTrainerOptions { VocabularySize = 300, SpecialTokens = [.. SpecialTokens.All] });
        HuggingFaceCheckpoint.Save(new DecoderLM(Models.Configuration.DecoderPresets.Find("tiny")! with { VocabSize = tok.VocabularySize }, seed: 2), tok, lm);
        string llm2 = Path.Combine(_dir, "llm2sasrec.zip");
        (code, output) = Run("train", "llm2sasrec", "--target", db, "--lm", lm, "--backend", "torchsharp", "--out", llm2, "--hidden", "16", "--max-length", "10", "--epochs", "1", "--min-epochs", "0");
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(Run("evaluate", "--model", llm2, "--data", db, "--json").Code, Is.EqualTo(0));
    }

    [Test]
    public void ReportBaselinesPrintsOneJsonObjectPerModelWithIntervalsAndPeakMemory()
    {
        string db = SyntheticDb(5, 60);
        (int code, string output) = Run("report", "baselines", "--data", db, "--json", "--with-bce", "--hidden", "16", "--max-length", "10", "--epochs", "2", "--min-epochs", "0");
        Assert.That(code, Is.EqualTo(0), output);
        JsonElement[] rows = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.That(rows.Select(r => r.GetProperty("model").GetString()), Is.EqualTo(new[] { "MostPopular", "SASRec (CE, d=16, len=10, dropout=0.5)", "SASRec (BCE, d=16, len=10, dropout=0.5)" }));
        foreach (JsonElement r in rows)
        {
            Assert.That(r.GetProperty("users").GetInt32(), Is.EqualTo(180));
            double ndcg = r.GetProperty("ndcg@10").GetDouble();
            double[] ci = r.GetProperty("ndcg@10_ci").EnumerateArray().Select(e => e.GetDouble()).ToArray();
            Assert.That(ci[0], Is.LessThanOrEqualTo(ndcg + 1e-5));
            Assert.That(ci[1], Is.GreaterThanOrEqualTo(ndcg - 1e-5));
            Assert.That(r.GetProperty("peak_working_set_mb").GetDouble(), Is.GreaterThan(0));
        }

        Assert.That(rows[1].GetProperty("notes").GetString(), Does.StartWith("2 epochs"));
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
        Assert.That(ByteLevelBpeTokenizer.FromFile(tok).VocabularySize, Is.InRange(280, 300));

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

        (code, output) = Run("bench", "train", "--config", "XS", "--steps", "1", "--backend", "torchsharp", "--precision", "bf16", "--json");
        Assert.That(code, Is.EqualTo(0), output);
        using JsonDocument mixed = JsonDocument.Parse(output.Trim().Split('\n').Last());
        Assert.That(mixed.RootElement.GetProperty("name").GetString(), Does.EndWith("-bf16-mixed"));
        Assert.That(mixed.RootElement.GetProperty("tokens_per_s").GetDouble(), Is.GreaterThan(0));
        Assert.That(Run("bench", "train", "--config", "XS", "--precision", "bf16").Code, Is.EqualTo(2), "bf16 needs TorchSharp");

        // MiniLM on ONNX Runtime and on our engine, side by side, on a small catalogue's titles.
        (code, output) = Run("bench", "embed", "--minilm", "--data", SyntheticDb(2, 5), "--rounds", "1", "--json");
        Assert.That(code, Is.EqualTo(0), output);
        var rows = output.Trim().Split('\n').Where(l => l.StartsWith('{')).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.That(rows.Select(r => r.GetProperty("name").GetString()), Is.EqualTo(new[] { "embed-minilm-onnxruntime", "embed-minilm-calrec" }));
        Assert.That(rows.Select(r => r.GetProperty("texts_per_s").GetDouble()), Has.All.GreaterThan(0));
        double diff = double.Parse(rows[0].GetProperty("config").GetString()!.Split("= ")[^1], System.Globalization.CultureInfo.InvariantCulture);
        Assert.That(diff, Is.LessThanOrEqualTo(1e-4), "the two engines embed alike");
    }

    [Test]
    public void BenchServeMeasuresHttpAgainstInProcessCalls()
    {
        string db = SyntheticDb(4, 40);
        (int code, string output) = Run("bench", "serve", "--data", db, "--requests", "300", "--clients", "3", "--json");
        Assert.That(code, Is.EqualTo(0), output);
        JsonElement[] rows = output.Trim().Split('\n').Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.That(rows.Select(r => r.GetProperty("name").GetString()), Is.EqualTo(new[] { "in-process", "http-recommend", "http-recommend", "http-batch" }));
        Assert.That(rows[2].GetProperty("config").GetString(), Does.EndWith("clients=3"));
        Assert.That(rows[1].GetProperty("latency_p99_ms").GetDouble(), Is.GreaterThanOrEqualTo(rows[1].GetProperty("latency_p50_ms").GetDouble()));
        Assert.That(rows.Take(3).Select(r => r.GetProperty("queries_per_s").GetDouble()), Has.All.GreaterThan(0));
        Assert.That(rows[3].GetProperty("users_per_s").GetDouble(), Is.GreaterThan(0));
    }

    [Test]
    public void TrainCalRecFromAConfigFileWithFlagOverridesThenRecommend()
    {
        string db = SyntheticDb(4, 60);
        string config = Path.Combine(_dir, "calrec.json");
        File.WriteAllText(config, """
            {
              // comments are allowed
              "backbone": "tiny", "vocabularySize": 400, "pretrainSteps": 10, "pooling": "Mean",
              "stage1": { "epochs": 1, "learningRate": 0.002 }, "stage2": { "epochs": 1 },
              "maxHistory": 4, "maxItemTokens": 12, "validationUsers": 30, "itemIdentityTokens": false, "members": 1
            }
            """);
        string model = Path.Combine(_dir, "calrec.zip");
        (int code, string output) = Run("train", "calrec", "--target", db, "--domain", "office", "--config", config, "--stage2-epochs", "2", "--out", model);
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(output, Does.Contain("stage1: ").And.Contain("from 3 domain(s)"), "the other domains form the mixture");
        Assert.That(output, Does.Match(@"stage2: [^\n]*\s2\s+epoch\(s\)"), "--stage2-epochs overrides the config file");
        Assert.That(File.Exists(model + ".options.json") || Directory.Exists(model + ".checkpoint"), Is.False, "a finished run leaves no checkpoint behind");
        var loaded = (CalRecModel)ModelFiles.Load(model);
        Assert.That(loaded.Settings.Pooling, Is.EqualTo(Models.Embeddings.Pooling.Mean));
        Assert.That(loaded.Catalog.All(i => i.Domain == "office"));

        Assert.That(loaded.Backbone.Config.Dropout, Is.Zero, "no --dropout: the preset's own setting");

        // The same run with the finetuning stages on TorchSharp, each batch in two micro-batches, as the item-ID hybrid (the
        // config file turns it off), with dropout: a model of the same catalogue with an identity token per item.
        string onTorch = Path.Combine(_dir, "calrec-torch.zip");
        (code, output) = Run("train", "calrec", "--target", db, "--domain", "office", "--config", config, "--out", onTorch, "--backend", "torchsharp", "--device", "cpu",
            "--accumulation-steps", "2", "--item-ids", "true", "--dropout", "0.1");
        Assert.That(code, Is.EqualTo(0), output);
        var hybrid = (CalRecModel)ModelFiles.Load(onTorch);
        Assert.That(hybrid.Catalog.Select(i => i.Id), Is.EqualTo(loaded.Catalog.Select(i => i.Id)));
        Assert.That(hybrid.Settings.IdentityTokenBase, Is.EqualTo(hybrid.Tokenizer.VocabularySize));
        Assert.That(hybrid.Backbone.Config.VocabSize, Is.EqualTo(hybrid.Tokenizer.VocabularySize + hybrid.ItemCount));
        Assert.That(hybrid.Towers.IdentityWeight, Is.AnyOf(0f, 0.05f), "τ, or 0 where the towers alone validate better");
        Assert.That(hybrid.Backbone.Config.Dropout, Is.EqualTo(0.1f));

        string history = string.Join(",", loaded.Catalog.Take(2).Select(i => i.Id));
        (code, output) = Run("recommend", "--model", model, "--history", history, "--k", "3", "--json");
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(output.Split('\n', StringSplitOptions.RemoveEmptyEntries), Has.Length.EqualTo(3));

        (code, output) = Run("recommend", "--model", model, "--history", history, "--k", "3", "--grounding", "fusion", "--explain", "--json");
        Assert.That(code, Is.EqualTo(0), output);
        var explained = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToList();
        Assert.That(explained.Take(3).Select(e => e.GetProperty("found_by").GetArrayLength()), Has.All.GreaterThan(0), "fusion items come from some path");
        Assert.That(explained[3].GetProperty("generated").GetArrayLength(), Is.GreaterThan(0), "--explain lists the generated texts");

        string officeDb = Path.Combine(_dir, "office.db");
        Data.Storage.SqliteStore.Save(Data.Storage.SqliteStore.Load(db).ForDomain("office"), officeDb);
        (code, output) = Run("evaluate", "--model", model, "--data", officeDb, "--grounding", "bm25", "--candidates", "2", "--users", "15", "--tune", "--tune-users", "10", "--save-tuned", "--json");
        Assert.That(code, Is.EqualTo(0), output);
        using (JsonDocument doc = JsonDocument.Parse(output.Trim().Split('\n')[^1]))
        {
            Assert.That(doc.RootElement.GetProperty("users").GetInt32(), Is.EqualTo(15));
            Assert.That(doc.RootElement.GetProperty("grounding").GetString(), Is.EqualTo("bm25"));
            Assert.That(doc.RootElement.GetProperty("protocol").GetString(), Does.Contain("seeded sample of 15 of 60"));
            Assert.That(doc.RootElement.GetProperty("seconds_per_1000_users").GetDouble(), Is.GreaterThan(0));
        }

        // The popularity prior chosen on validation users and saved into the zip (the run's log names each candidate).
        (code, output) = Run("evaluate", "--model", model, "--data", officeDb, "--tune-prior", "--tune-users", "20", "--save-tuned", "--users", "10", "--json");
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(((CalRecModel)ModelFiles.Load(model)).Towers.PopularityPrior, Is.AnyOf(0f, 0.005f, 0.01f, 0.02f, 0.04f, 0.08f, 0.16f));
        (code, output) = Run("evaluate", "--model", onTorch, "--data", officeDb, "--tune-identity", "--tune-users", "20", "--save-tuned", "--users", "10", "--json");
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(((CalRecModel)ModelFiles.Load(onTorch)).Towers.IdentityWeight, Is.AnyOf(0f, 0.0125f, 0.025f, 0.05f, 0.1f, 0.2f, 0.4f, 100f));
        (code, output) = Run("evaluate", "--model", model, "--data", officeDb, "--tune-identity");
        Assert.That(code, Is.EqualTo(2), output);
        Assert.That(output, Does.Contain("no item identity tokens").And.Not.Contain("   at "), "a one-line error");

        var tuned = (CalRecModel)ModelFiles.Load(model);
        Assert.That(tuned.Grounding.Path, Is.EqualTo(GroundingPath.Bm25), "--save-tuned stored the grounding settings in the zip");
        Assert.That(tuned.Grounding.Candidates, Is.EqualTo(2));
        Assert.That(Run("evaluate", "--model", Path.Combine(_dir, "sasrec-missing.zip"), "--data", officeDb, "--grounding", "bm25").Code, Is.EqualTo(2));

        string pop = Path.Combine(_dir, "pop.zip");
        Assert.That(Run("train", "mostpop", "--target", officeDb, "--out", pop).Code, Is.EqualTo(0));
        (code, output) = Run("evaluate", "--model", model, "--data", officeDb, "--grounding", "embedding", "--candidates", "2", "--gamma", "1", "--collaborative", pop, "--embedding-pooling", "mean", "--users", "10", "--json");
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(JsonDocument.Parse(output.Trim().Split('\n')[^1]).RootElement.GetProperty("grounding").GetString(), Is.EqualTo("embedding, gamma 1 (collaborative)"));
        (code, output) = Run("evaluate", "--model", model, "--data", officeDb, "--grounding", "embedding", "--candidates", "2", "--gamma", "0", "--embedding-backbone", "minilm", "--users", "10", "--json");
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(JsonDocument.Parse(output.Trim().Split('\n')[^1]).RootElement.GetProperty("grounding").GetString(), Is.EqualTo("embedding, embedded by minilm"));

        // A stage-1-only meta-learning run validates only at its end and writes no checkpoint: it must still finish cleanly.
        string meta = Path.Combine(_dir, "meta.zip");
        (code, output) = Run("train", "calrec", "--target", db, "--domain", "office", "--config", config, "--meta", "reptile", "--meta-inner-steps", "2", "--stage1-steps", "4",
            "--stage2-epochs", "0", "--out", meta);
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(output, Does.Match(@"2\s+meta-steps\s+of\s+2\s+inner\s+steps"), output);
        Assert.That(File.Exists(meta) && !Directory.Exists(meta + ".checkpoint"));

        File.WriteAllText(config, "{\n  \"batchSize\": \"many\"\n}");
        (code, output) = Run("train", "calrec", "--target", db, "--config", config, "--out", model);
        Assert.That(code, Is.EqualTo(2), output);
        Assert.That(output, Does.Contain("calrec.json").And.Contain("line 2").And.Contain("batchSize"));

        (code, output) = Run("train", "calrec", "--target", db, "--out", Path.Combine(_dir, "other.zip"), "--resume");
        Assert.That(code, Is.EqualTo(2), output);
        Assert.That(output, Does.Contain("no interrupted run"));
    }

    [Test]
    public void DemoRunsTheWholeCalRecPipelineAndWritesLoadableModels()
    {
        string outDir = Path.Combine(_dir, "demo");
        (int code, string output) = Run("demo", "--out", outDir, "--users-per-domain", "60", "--pretrain-steps", "20", "--stage1-epochs", "1", "--stage2-epochs", "1",
            "--sasrec-minutes", "0.05", "--validation-users", "40");
        Assert.That(code, Is.EqualTo(0), output);
        Assert.That(output, Does.Contain("stage 0: LM pretraining").And.Contain("stage1:").And.Contain("stage2:"));
        foreach (string row in (string[])["MostPopular", "SASRec", "CALRec"])
        {
            Assert.That(System.Text.RegularExpressions.Regex.IsMatch(output, $@"{row}\s+\S\s+0\.\d{{4}}"), $"table row {row}\n{output}");
        }

        var loaded = ModelFiles.Load(Path.Combine(outDir, "calrec.zip"));
        Assert.That(loaded, Is.InstanceOf<CalRecModel>());
        Assert.That(loaded.ItemCount, Is.EqualTo(72), "the synthetic beauty domain");
        string backbone = Path.Combine(outDir, "backbone");
        (DecoderLM model, ByteLevelBpeTokenizer? tok) = HuggingFaceCheckpoint.Load(backbone);
        Assert.That(tok, Is.Not.Null);
        // The demo's backbone is the finetuned one: the tokenizer's ids plus one identity token per beauty item.
        Assert.That(model.Config.VocabSize, Is.EqualTo(tok!.VocabularySize + 72));

        (code, output) = Run("generate", "--model", backbone, "--prompt", "title:", "--beams", "3", "--max-new-tokens", "6", "--json");
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
        (code, output) = Run("generate", "--model", backbone, "--prompt", "title:", "--max-new-tokens", "100000");
        Assert.That(code, Is.EqualTo(2), output);
        Assert.That(output, Does.Contain("exceed the model's context of"));
    }

    [Test]
    public async Task ServeAnswersOverHttpUntilCancelledAndRefusesABusyPort()
    {
        string db = SyntheticDb(4, 40, out Data.InteractionDataset data);
        string model = Path.Combine(_dir, "pop.zip");
        Assert.That(Run("train", "mostpop", "--target", db, "--out", model).Code, Is.EqualTo(0));

        TextWriter saved = Console.Out;
        IAnsiConsole savedAnsi = AnsiConsole.Console;
        var sw = new StringWriter();
        TextWriter output = TextWriter.Synchronized(sw);
        string Text()
        {
            lock (output)
            {
                return sw.ToString(); // the synchronized writer locks on itself
            }
        }

        Console.SetOut(output);
        AnsiConsole.Console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.No, Interactive = InteractionSupport.No });
        try
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            Task<int> server = Program.BuildRoot().Parse(["serve", "--model", model, "--urls", "http://127.0.0.1:0", "--k", "3"]).InvokeAsync(cancellationToken: stop.Token);
            System.Text.RegularExpressions.Match address = System.Text.RegularExpressions.Match.Empty;
            for (int i = 0; i < 200 && !address.Success && !server.IsCompleted; i++)
            {
                await Task.Delay(50);
                address = System.Text.RegularExpressions.Regex.Match(Text(), @"http://127\.0\.0\.1:\d+");
            }

            Assert.That(address.Success, Is.True, $"completed: {server.IsCompleted}; output: {Text()}");
            using var http = new HttpClient { BaseAddress = new Uri(address.Value) };
            string first = data.Items[data.Sequences[0][0]].Id;
            string body = await (await http.GetAsync($"/recommend?history={Uri.EscapeDataString(first)}")).Content.ReadAsStringAsync();
            using (JsonDocument doc = JsonDocument.Parse(body))
            {
                Assert.That(doc.RootElement.GetProperty("items").GetArrayLength(), Is.EqualTo(3), "--k sets the default");
            }

            int port = new Uri(address.Value).Port;
            Task<int> second = Program.BuildRoot().Parse(["serve", "--model", model, "--urls", $"http://127.0.0.1:{port}"]).InvokeAsync();
            Assert.That(await second, Is.EqualTo(2), "the port is taken");
            Assert.That(Text(), Does.Contain($"cannot listen on http://127.0.0.1:{port}"));

            stop.Cancel();
            Assert.That(await server, Is.EqualTo(0), Text());
            Assert.That(Text(), Does.Contain("stopping"));
        }
        finally
        {
            Console.SetOut(saved);
            AnsiConsole.Console = savedAnsi;
        }
    }
}
