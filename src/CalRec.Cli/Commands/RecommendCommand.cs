using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CalRec.Cli.Options;
using CalRec.Recommenders;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Grounding;
using Spectre.Console;

namespace CalRec.Cli.Commands;

/// <summary><c>calrec recommend</c>: the next items for one history, optionally grounded and explained.</summary>
internal static class RecommendCommand
{
    public static Command CreateRecommend()
    {
        var model = new Option<string>("--model") { Description = "Model zip from calrec train.", Required = true };
        var history = new Option<string>("--history") { Description = "Item ids, oldest first, separated by commas.", Required = true };
        var k = new Option<int>("--k") { Description = "How many items.", DefaultValueFactory = _ => 10 };
        var includeSeen = new Option<bool>("--include-seen") { Description = "Allow items from the history." };
        var json = new Option<bool>("--json") { Description = "One JSON object per item." };
        var explain = new Option<bool>("--explain") { Description = "CALRec: show the generated item texts and which grounding paths found each recommended item." };
        var cmd = new Command("recommend", "Recommend the next items for one history.") { model, history, k, includeSeen, json, explain };
        var grounding = new GroundingArguments();
        grounding.AddTo(cmd);
        CommandRunner.SetAction(cmd, (p, _) =>
        {
            MLNet.SequentialRecommendationTransformer recommender = ModelFiles.LoadRecommender(p.GetValue(model)!);
            RecommenderModel m = recommender.Model;
            string[] ids = p.GetValue(history)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            if (grounding.Given(p) || p.GetValue(explain))
            {
                return Grounded(GroundingArguments.RequireCalRec(m, "--grounding/--explain"), grounding.Read(p, (CalRecModel)m), grounding.LoadCollaborative(p), grounding.LoadEmbedder(p), ids, p.GetValue(k),
                    p.GetValue(json), p.GetValue(explain));
            }

            if (p.GetValue(k) <= 0)
            {
                throw new ArgumentException($"--k: {p.GetValue(k)} is not a positive number of items.");
            }

            m.ToIndices(ids);
            // One history through ML.NET's PredictionEngine, as an application would call it.
            var engine = ModelFiles.MLContext.Model.CreatePredictionEngine<MLNet.HistoryRow, MLNet.RecommendationRow>(
                recommender.WithColumns(MLNet.RecommendationColumns.Default with { TopK = p.GetValue(k), ExcludeSeen = !p.GetValue(includeSeen) }));
            MLNet.RecommendationRow row = engine.Predict(new MLNet.HistoryRow { History = ids });
            var items = row.PredictedItemIds.Select((id, i) => new ScoredItem(id, m.Catalog[m.IndexOf(id)!.Value].Title, row.Scores[i])).ToList();
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
        });
        return cmd;
    }

    private static int Grounded(CalRecModel m, GroundingOptions options, RecommenderModel? collaborative, GroundingEmbedder? embedder, string[] ids, int k, bool json, bool explain)
    {
        GroundingExplanation e = new GroundedScorer(m, options, collaborative: collaborative, embedder: embedder).Explain(m.ToIndices(ids), k);
        string Paths(ExplainedItem item) => string.Join("+", item.FoundBy.Select(f => f.ToString().ToLowerInvariant()));
        if (json)
        {
            foreach (ExplainedItem item in e.Top)
            {
                Console.WriteLine(JsonSerializer.Serialize(new { id = m.Catalog[item.Item].Id, title = m.Catalog[item.Item].Title, score = item.Score, found_by = item.FoundBy.Select(f => f.ToString().ToLowerInvariant()) }));
            }

            if (explain)
            {
                Console.WriteLine(JsonSerializer.Serialize(new { generated = e.Generated.Select(g => new { text = g.Text, logprob = g.LogProb }) }));
            }

            return 0;
        }

        if (explain)
        {
            AnsiConsole.MarkupLine($"grounding: [bold]{options.Path.ToString().ToLowerInvariant()}[/]; generated next-item texts (best first):");
            foreach (GeneratedText g in e.Generated)
            {
                AnsiConsole.MarkupLineInterpolated($"  {g.LogProb,8:F2}  {g.Text}");
            }
        }

        var table = new Table().AddColumns("#", "item", "title", "score", "found by");
        for (int i = 0; i < e.Top.Count; i++)
        {
            ExplainedItem item = e.Top[i];
            table.AddRow((i + 1).ToString(CultureInfo.InvariantCulture), Markup.Escape(m.Catalog[item.Item].Id), Markup.Escape(m.Catalog[item.Item].Title),
                item.Score.ToString("G5", CultureInfo.InvariantCulture), Markup.Escape(Paths(item)));
        }

        AnsiConsole.Write(table);
        return 0;
    }
}
