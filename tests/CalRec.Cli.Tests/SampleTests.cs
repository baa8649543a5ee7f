using System.Diagnostics;

namespace CalRec.Cli.Tests;

/// <summary>
/// Every program in samples/ runs to the end and prints what it promises. The samples are projects of the solution, so
/// the README's test command has built them next to this assembly's configuration (Release/net10.0).
/// </summary>
[TestFixture]
public class SampleTests
{
    [TestCase("TrainAndRecommend", "SASRec      NDCG@5")]
    [TestCase("ServeOverHttp", "8 concurrent POST /predict -> 200;")]
    [TestCase("BatchScoreSqlite", "wrote 900 rows to table next_items")]
    [TestCase("TrainTinyLanguageModel", "saved ")]
    [TestCase("CalRecTwoStage", "(BM25-grounded): ")]
    public void SampleRunsToTheEnd(string sample, string expected)
    {
        // tests/CalRec.Cli.Tests/bin/<Configuration>/<tfm>/ -> the repository and the same configuration folder.
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string tfm = here.Name, configuration = here.Parent!.Name;
        string root = here.Parent.Parent!.Parent!.Parent!.Parent!.FullName;
        string dll = Path.Combine(root, "samples", sample, "bin", configuration, tfm, sample + ".dll");
        if (!File.Exists(dll))
        {
            Assert.Ignore($"{dll} is not built: run the README's test command (dotnet test CalRec.MLNet.sln -c Release), which builds the samples.");
        }

        var start = new ProcessStartInfo("dotnet", [dll]) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = root };
        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync(), errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromMinutes(8)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{sample} did not finish in 8 minutes.");
        }

        string text = output.Result + errors.Result;
        Assert.That(process.ExitCode, Is.Zero, text);
        Assert.That(text, Does.Contain(expected));
    }

    [Test]
    public void RedirectedOutputHasNoColourCodesAndNoWrapping()
    {
        var here = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string dll = Path.Combine(here.FullName, "calrec.dll");
        string missing = Path.Combine(Path.GetTempPath(), $"calrec-no-such-folder-{Guid.NewGuid():N}", "a-rather-long-file-name-so-the-message-passes-eighty-columns.zip");
        var start = new ProcessStartInfo("dotnet", [dll, "score", "--model", missing, "--input", "x.jsonl"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using Process process = Process.Start(start)!;
        string output = process.StandardOutput.ReadToEnd() + process.StandardError.ReadToEnd();
        process.WaitForExit();

        Assert.That(process.ExitCode, Is.EqualTo(2), output);
        Assert.That(output, Does.Not.Contain("\u001b"), "no ANSI escape codes into a pipe");
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.That(lines, Has.Length.EqualTo(1), "one error line, not wrapped");
        Assert.That(lines[0], Does.StartWith("error: ").And.Length.GreaterThan(100));
    }
}
