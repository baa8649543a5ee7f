using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CalRec.Data.Normalized;
using CalRec.Persistence;
using CalRec.Prediction;
using Spectre.Console;

namespace CalRec.Cli.Commands;

/// <summary><c>calrec recommend</c> (one history) and <c>calrec score</c> (a file of histories, streamed).</summary>
internal static class RecommendCommand
{
    public static Command CreateRecommend()
    {
        var model = new Option<string>("--model") { Description = "Model zip from calrec train.", Required = true };
        var history = new Option<string>("--history") { Description = "Item ids, oldest first, separated by commas.", Required = true };
        var k = new Option<int>("--k") { Description = "How many items.", DefaultValueFactory = _ => 10 };
        var includeSeen = new Option<bool>("--include-seen") { Description = "Allow items from the history." };
        var json = new Option<bool>("--json") { Description = "One JSON object per item." };
        var cmd = new Command("recommend", "Recommend the next items for one history.") { model, history, k, includeSeen, json };
        cmd.SetAction(p =>
        {
            try
            {
                var ctx = new RecContext();
                RecommenderModel m = ctx.Model.Load(p.GetValue(model)!);
                string[] ids = p.GetValue(history)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
                IReadOnlyList<ScoredItem> items = ctx.Model.CreateRecommender(m).Recommend(ids, p.GetValue(k), !p.GetValue(includeSeen));
                if (p.GetValue(json))
                {
                    foreach (ScoredItem item in items)
                    {
                        Console.WriteLine(JsonSerializer.Serialize(new { id = item.ItemId, title = item.Title, score = item.Score }));
                    }

                    return 0;
                }

                var table = new Table().AddColumns("#", "item", "title", "score");
                for (int i = 0; i < items.Count; i++)
                {
                    table.AddRow((i + 1).ToString(CultureInfo.InvariantCulture), Markup.Escape(items[i].ItemId), Markup.Escape(items[i].Title),
                        items[i].Score.ToString("G5", CultureInfo.InvariantCulture));
                }

                AnsiConsole.Write(table);
                return 0;
            }
            catch (Exception ex) when (UserErrors.Is(ex))
            {
                return UserErrors.Report(ex);
            }
        });
        return cmd;
    }

    public static Command CreateScore()
    {
        var model = new Option<string>("--model") { Description = "Model zip from calrec train.", Required = true };
        var input = new Option<string>("--input") { Description = "Histories as JSON lines: {\"user\": \"...\", \"items\": [\"id\", ...]} (the sequences.jsonl layout).", Required = true };
        var output = new Option<string>("--out") { Description = "Where to write one JSON line per user ('-' for standard output).", DefaultValueFactory = _ => "-" };
        var k = new Option<int>("--k") { Description = "Items per user.", DefaultValueFactory = _ => 10 };
        var cmd = new Command("score", "Batch scoring: stream a file of histories through a model and write each user's top items.") { model, input, output, k };
        cmd.SetAction((p, ct) => Task.Run(() =>
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
            catch (OperationCanceledException)
            {
                AnsiConsole.MarkupLine("[yellow]cancelled:[/] no output written.");
                return 130;
            }
            catch (Exception ex) when (UserErrors.Is(ex))
            {
                return UserErrors.Report(ex);
            }
            finally
            {
                if (temp is not null)
                {
                    File.Delete(temp);
                }
            }
        }, CancellationToken.None));
        return cmd;
    }
}
