using System.CommandLine;
using System.Text.Json;
using CalRec.Data.Readers;
using CalRec.Recommenders;
using Spectre.Console;

namespace CalRec.Cli.Commands;

/// <summary><c>calrec score</c>: stream a file of histories through a model and write each user's top items as JSON lines (atomically).</summary>
internal static class ScoreCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model zip from calrec train.", Required = true };
        var input = new Option<string>("--input") { Description = "Histories as JSON lines: {\"user\": \"...\", \"items\": [\"id\", ...]} (the sequences.jsonl layout).", Required = true };
        var output = new Option<string>("--out") { Description = "Where to write one JSON line per user ('-' for standard output).", DefaultValueFactory = _ => "-" };
        var k = new Option<int>("--k") { Description = "Items per user.", DefaultValueFactory = _ => 10 };
        var cmd = new Command("score", "Batch scoring: stream a file of histories through a model and write each user's top items.") { model, input, output, k };
        CommandRunner.SetAction(cmd, (p, ct) =>
        {
            string outPath = p.GetValue(output)!;
            string? temp = outPath == "-" ? null : Path.GetFullPath(outPath) + $".tmp-{Guid.NewGuid():N}";
            try
            {
                var ctx = new RecContext();
                RecommenderModel m = ctx.Model.Load(p.GetValue(model)!);
                IEnumerable<UserHistory> rows = NormalizedDataset.ReadSequences(p.GetValue(input)!).Select(u => new UserHistory(u.User, u.Items));
                long count = 0;
                using (TextWriter writer = temp is null ? new StreamWriter(Console.OpenStandardOutput()) : new StreamWriter(temp))
                {
                    foreach (Recommendation r in m.Transform(rows, p.GetValue(k)))
                    {
                        ct.ThrowIfCancellationRequested();
                        writer.WriteLine(JsonSerializer.Serialize(new { user = r.UserId, items = r.Items.Select(i => new { id = i.ItemId, title = i.Title, score = i.Score }) }));
                        count++;
                    }
                }

                if (temp is not null)
                {
                    File.Move(temp, outPath, overwrite: true);
                    AnsiConsole.MarkupLineInterpolated($"scored {count:N0} users -> {outPath}");
                }

                return 0;
            }
            finally
            {
                if (temp is not null)
                {
                    File.Delete(temp);
                }
            }
        }, _ => "no output written.");
        return cmd;
    }
}
