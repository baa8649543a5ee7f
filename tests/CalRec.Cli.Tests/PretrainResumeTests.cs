using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text.Json;
using CalRec.Data.Synthetic;

namespace CalRec.Cli.Tests;

/// <summary>
/// Resuming from a checkpoint continues training exactly: a run killed with a real process kill and resumed produces the
/// same per-step losses and the same final weights as an uninterrupted run (same seed, same thread count).
/// </summary>
[TestFixture]
[NonParallelizable]
public class PretrainResumeTests
{
    private string _dir = null!;

    [SetUp]
    public void SetUp()
    {
        _dir = Path.Combine(Path.GetTempPath(), "calrec-resume-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(_dir);
    }

    [TearDown]
    public void TearDown() => Directory.Delete(_dir, true);

    [Test]
    public void KilledAndResumedRunMatchesUninterruptedRun()
    {
        string corpus = Path.Combine(_dir, "corpus.txt");
        SyntheticCatalog data = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 2, UsersPerDomain = 60 });
        var text = data.Items.ToDictionary(i => i.Id, i => i.ToText());
        File.WriteAllLines(corpus, data.Items.Select(i => i.ToText()).Concat(data.Users.Select(u => string.Join(" <|item|> ", u.Items.Select(id => text[id])))));
        string[] common = ["pretrain", "--corpus", corpus, "--config", Preset(), "--vocab-size", "400", "--steps", "300", "--checkpoint-every", "10",
            "--eval-every", "50", "--seq-len", "32", "--batch-size", "4", "--seed", "3"];

        string straight = Path.Combine(_dir, "straight");
        Assert.That(RunToEnd([.. common, "--out", straight]), Is.EqualTo(0));

        string killed = Path.Combine(_dir, "killed");
        using (Process p = Start([.. common, "--out", killed]))
        {
            string log = Path.Combine(killed, "train_log.jsonl");
            var clock = Stopwatch.StartNew();
            while (LogLines(log) < 35 && !p.HasExited && clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                Thread.Sleep(5);
            }

            Assert.That(p.HasExited, Is.False, "the run must still be going when it is killed (make it longer if this fails)");
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }

        int killedAt = LogLines(Path.Combine(killed, "train_log.jsonl"));
        Assert.That(killedAt, Is.LessThan(300));
        Assert.That(RunToEnd(["pretrain", "--out", killed, "--resume"]), Is.EqualTo(0));

        string[] a = Steps(Path.Combine(straight, "train_log.jsonl")), b = Steps(Path.Combine(killed, "train_log.jsonl"));
        Assert.That(a, Has.Length.EqualTo(300));
        Assert.That(b, Is.EqualTo(a), $"killed after about {killedAt} logged steps; every step's loss must match");
        Assert.That(File.ReadAllBytes(Path.Combine(killed, "checkpoint", "model.safetensors")), Is.EqualTo(File.ReadAllBytes(Path.Combine(straight, "checkpoint", "model.safetensors"))));
        Assert.That(File.ReadAllBytes(Path.Combine(killed, "checkpoint", "optimizer.safetensors")), Is.EqualTo(File.ReadAllBytes(Path.Combine(straight, "checkpoint", "optimizer.safetensors"))));
    }

    [Test]
    public void PretrainingOnTorchSharpLearnsWritesAModelOurEngineLoadsAndResumesOnTorchSharp()
    {
        string corpus = Path.Combine(_dir, "corpus.txt");
        SyntheticCatalog data = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 2, UsersPerDomain = 30 });
        File.WriteAllLines(corpus, data.Items.Select(i => i.ToText()));
        string run = Path.Combine(_dir, "torch");
        string[] common = ["pretrain", "--corpus", corpus, "--config", Preset(), "--vocab-size", "400", "--steps", "60", "--checkpoint-every", "30",
            "--eval-every", "20", "--seq-len", "32", "--batch-size", "4", "--seed", "3"];

        Assert.That(RunToEnd([.. common, "--backend", "torchsharp", "--device", "cpu", "--out", run]), Is.EqualTo(0));
        double[] validation = File.ReadLines(Path.Combine(run, "train_log.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.TryGetProperty("val_loss", out _)).Select(e => e.GetProperty("val_loss").GetDouble()).ToArray();
        Assert.That(validation, Has.Length.EqualTo(3));
        Assert.That(validation[^1], Is.LessThan(validation[0]), "the validation loss falls");
        using JsonDocument state = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "checkpoint", "trainer_state.json")));
        Assert.That(state.RootElement.GetProperty("backend").GetString(), Is.EqualTo("torchsharp"));
        Assert.That(File.Exists(Path.Combine(run, "checkpoint", "optimizer.torchsharp")), Is.True);
        (Models.Decoder.DecoderLM model, _) = Models.Checkpoints.HuggingFaceCheckpoint.Load(Path.Combine(run, "model"));
        Assert.That(model.Config.VocabSize, Is.EqualTo(400));

        // --resume continues on the engine the run started on, whatever the defaults.
        Assert.That(RunToEnd(["pretrain", "--out", run, "--resume"]), Is.EqualTo(0));
        Assert.That(RunToEnd([.. common, "--device", "cuda", "--out", Path.Combine(_dir, "bad")]), Is.EqualTo(2), "no CUDA here: a one-line error");

        // bfloat16 mixed precision: TorchSharp only; the run learns and records its precision for --resume.
        Assert.That(RunToEnd([.. common, "--precision", "bf16", "--out", Path.Combine(_dir, "bad-bf16")]), Is.EqualTo(2), "our engine trains in float32: a one-line error");
        string bf16 = Path.Combine(_dir, "bf16");
        Assert.That(RunToEnd([.. common, "--backend", "torchsharp", "--precision", "bf16", "--out", bf16]), Is.EqualTo(0));
        double[] mixed = File.ReadLines(Path.Combine(bf16, "train_log.jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
            .Where(e => e.TryGetProperty("val_loss", out _)).Select(e => e.GetProperty("val_loss").GetDouble()).ToArray();
        Assert.That(mixed[^1], Is.LessThan(mixed[0]), "the validation loss falls in bf16 too");
        using JsonDocument bf16State = JsonDocument.Parse(File.ReadAllText(Path.Combine(bf16, "checkpoint", "trainer_state.json")));
        Assert.That(bf16State.RootElement.GetProperty("extra").GetProperty("precision").GetString(), Is.EqualTo("BFloat16"));
    }

    [Test]
    public void AKilledSasRecRunResumesFromItsLastEpochToTheModelOfAnUninterruptedRun()
    {
        string db = Path.Combine(_dir, "synthetic.db");
        Data.Storage.SqliteStore.Save(SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 6, UsersPerDomain = 400 }).ToDataset(), db);
        string[] common = ["train", "sasrec", "--target", db, "--hidden", "32", "--max-length", "20", "--epochs", "8", "--min-epochs", "8", "--seed", "3"];
        string straight = Path.Combine(_dir, "straight.zip"), killed = Path.Combine(_dir, "killed.zip");
        Assert.That(RunToEnd([.. common, "--out", straight]), Is.EqualTo(0));

        using (Process p = Start([.. common, "--out", killed]))
        {
            string state = Path.Combine(killed + ".checkpoint", "state.json");
            var clock = Stopwatch.StartNew();
            while (!(File.Exists(state) && File.ReadAllText(state).Contains("\"epoch\":2,", StringComparison.Ordinal)) && !p.HasExited && clock.Elapsed < TimeSpan.FromSeconds(120))
            {
                Thread.Sleep(5);
            }

            Assert.That(p.HasExited, Is.False, "the run must still be going when it is killed");
            p.Kill(entireProcessTree: true);
            p.WaitForExit();
        }

        Assert.That(File.Exists(killed), Is.False);
        Assert.That(RunToEnd(["train", "sasrec", "--target", db, "--out", killed, "--hidden", "64", "--resume"]), Is.EqualTo(2), "settings come from the checkpoint");
        Assert.That(RunToEnd(["train", "sasrec", "--target", db, "--out", killed, "--resume"]), Is.EqualTo(0));
        Assert.That(Directory.Exists(killed + ".checkpoint"), Is.False, "the checkpoint goes once the model is saved");

        string Evaluate(string model)
        {
            using Process p = Start(["evaluate", "--model", model, "--data", db, "--json"], captureOutput: true);
            string output = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            using JsonDocument json = JsonDocument.Parse(output);
            return $"{json.RootElement.GetProperty("ndcg@10")} {json.RootElement.GetProperty("hr@10")} {json.RootElement.GetProperty("epochs")}";
        }

        Assert.That(Evaluate(killed), Is.EqualTo(Evaluate(straight)));
    }

    [Test]
    public void CtrlCSavesACheckpointAtTheLastCompletedStepAndExits130()
    {
        string corpus = Path.Combine(_dir, "c.txt");
        SyntheticCatalog data = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = 4, UsersPerDomain = 30 });
        File.WriteAllLines(corpus, data.Items.Select(i => i.ToText()));
        string run = Path.Combine(_dir, "interrupted");
        using Process p = Start(["pretrain", "--corpus", corpus, "--config", Preset(), "--vocab-size", "400", "--steps", "100000", "--checkpoint-every", "1000",
            "--seq-len", "32", "--batch-size", "4", "--out", run]);
        string log = Path.Combine(run, "train_log.jsonl");
        var clock = Stopwatch.StartNew();
        while (LogLines(log) < 20 && clock.Elapsed < TimeSpan.FromSeconds(60))
        {
            Thread.Sleep(5);
        }

        Assert.That(p.HasExited, Is.False);
        using (Process kill = Process.Start("kill", ["-INT", p.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            kill.WaitForExit();
        }

        Assert.That(p.WaitForExit(TimeSpan.FromSeconds(60)), Is.True, "SIGINT stops the run");
        Assert.That(p.ExitCode, Is.EqualTo(130));
        int lastLogged = LogLines(log);
        using JsonDocument state = JsonDocument.Parse(File.ReadAllText(Path.Combine(run, "checkpoint", "trainer_state.json")));
        Assert.That(state.RootElement.GetProperty("step").GetInt32(), Is.EqualTo(lastLogged), "the checkpoint holds every completed step");
        Assert.That(lastLogged, Is.LessThan(1000), "stopped long before a periodic checkpoint would have been written");
    }

    [Test]
    public void SecondRunIntoTheSameFolderNeedsResume()
    {
        string corpus = Path.Combine(_dir, "c.txt");
        File.WriteAllLines(corpus, Enumerable.Repeat("title: Gentle Cleanser; brand: Loti; category: beauty > cleanser", 200));
        string[] args = ["pretrain", "--corpus", corpus, "--config", Preset(), "--vocab-size", "300", "--steps", "2", "--seq-len", "16", "--batch-size", "2", "--out", Path.Combine(_dir, "run")];
        Assert.That(RunToEnd(args), Is.EqualTo(0));
        Assert.That(RunToEnd(args), Is.EqualTo(2));
        Assert.That(RunToEnd(["pretrain", "--out", Path.Combine(_dir, "nothing"), "--resume"]), Is.EqualTo(2));
    }

    private static string Preset([CallerFilePath] string here = "") => Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", "..", "models", "tiny.json"));

    private static string[] Steps(string log) => File.ReadLines(log).Select(l =>
    {
        JsonElement e = JsonDocument.Parse(l).RootElement;
        return $"{e.GetProperty("step")} {e.GetProperty("loss")} {e.GetProperty("lr")} {(e.TryGetProperty("val_loss", out JsonElement v) ? v.ToString() : "-")}";
    }).ToArray();

    private static int LogLines(string path)
    {
        try
        {
            return File.Exists(path) ? File.ReadLines(path).Count(l => l.EndsWith('}')) : 0;
        }
        catch (IOException)
        {
            return 0;
        }
    }

    private static Process Start(string[] args, bool captureOutput = false)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "calrec.dll"));
        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var p = Process.Start(psi)!;
        if (!captureOutput)
        {
            p.OutputDataReceived += (_, _) => { };
            p.BeginOutputReadLine();
        }

        p.ErrorDataReceived += (_, _) => { };
        p.BeginErrorReadLine();
        return p;
    }

    private static int RunToEnd(string[] args)
    {
        using Process p = Start(args);
        p.WaitForExit();
        return p.ExitCode;
    }
}
