using System.CommandLine;
using CalRec.MLNet;
using Microsoft.ML;
using Spectre.Console;

namespace CalRec.Cli.Commands;

/// <summary>
/// <c>calrec score</c>: batch scoring of a table through the ML.NET pipeline: a history table read lazily from a file
/// (Parquet, SQLite, JSON lines, TSV/CSV), the saved model's <c>Transform</c> (blocks of users), and the scored table
/// written as it streams (Parquet, SQLite, JSON lines, TSV), atomically.
/// </summary>
internal static class ScoreCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model zip from calrec train (or any saved pipeline holding a recommender).", Required = true };
        var input = new Option<string>("--input")
        {
            Description = "History table: .parquet (UserId, History list), .db/.sqlite (see --query), .jsonl ({\"user\": ..., \"items\": [...]}), .tsv/.csv (header; UserId, space-separated History).",
            Required = true,
        };
        var query = new Option<string?>("--query") { Description = "SQLite input: the query selecting the user id and the space-separated history, in that order (default: SELECT UserId, History FROM histories)." };
        var output = new Option<string>("--out") { Description = "Scored table: .parquet, .db/.sqlite (see --table), .jsonl, .tsv; '-' writes JSON lines to standard output.", DefaultValueFactory = _ => "-" };
        var table = new Option<string>("--table") { Description = "SQLite output: the table to (re)create.", DefaultValueFactory = _ => "recommendations" };
        var k = new Option<int?>("--k") { Description = "Items per user (default: the model's own K)." };
        var cmd = new Command("score", "Batch scoring: stream a table of histories through a model and write each user's top items.") { model, input, query, output, table, k };
        CommandRunner.SetAction(cmd, (p, ct) =>
        {
            if (p.GetValue(k) is <= 0)
            {
                throw new ArgumentException($"--k: {p.GetValue(k)} is not a positive number of items.");
            }

            MLContext ml = ModelFiles.MLContext;
            ITransformer pipeline = ModelFiles.LoadPipeline(p.GetValue(model)!);
            if (p.GetValue(k) is int topK)
            {
                pipeline = pipeline is SequentialRecommendationTransformer recommender
                    ? recommender.WithColumns(recommender.Columns with { TopK = topK })
                    : throw new ArgumentException("--k: this model is a pipeline; its K is fixed at training (score without --k).");
            }

            IDataView histories = ml.SequentialRecommendation().Data.LoadHistories(p.GetValue(input)!, p.GetValue(query));
            IDataView scored = pipeline.Transform(histories);
            string outPath = p.GetValue(output)!;
            if (outPath == "-")
            {
                using Stream stdout = Console.OpenStandardOutput();
                ml.SequentialRecommendation().Data.SaveTable(scored, stdout, ct);
                return 0;
            }

            var clock = System.Diagnostics.Stopwatch.StartNew();
            long rows = 0;
            var progress = new Progress(n =>
            {
                rows = n;
                if (!Console.IsErrorRedirected)
                {
                    Console.Error.Write($"\rscored {n:N0} users ({n / Math.Max(clock.Elapsed.TotalSeconds, 1e-3):N0}/s)   ");
                }
            });
            ml.SequentialRecommendation().Data.SaveTable(scored, outPath, p.GetValue(table)!, progress, ct);
            if (!Console.IsErrorRedirected)
            {
                Console.Error.WriteLine();
            }

            AnsiConsole.MarkupLineInterpolated($"scored {rows:N0} users in {clock.Elapsed.TotalSeconds:F1} s -> {outPath}");
            return 0;
        }, _ => "no output written.");
        return cmd;
    }

    private sealed class Progress(Action<long> report) : IProgress<long>
    {
        public void Report(long value) => report(value);
    }
}
