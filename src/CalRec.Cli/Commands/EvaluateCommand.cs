using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CalRec.Cli.Options;
using CalRec.Data.Core;
using CalRec.Evaluation;
using CalRec.Persistence;
using CalRec.Prediction;
using Spectre.Console;

namespace CalRec.Cli.Commands;

/// <summary><c>calrec evaluate</c>: full-ranking metrics of a model zip on a dataset's leave-one-out test split.</summary>
internal static class EvaluateCommand
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Model zip from calrec train.", Required = true };
        var data = new Option<string>("--data") { Description = "Dataset (any supported format or .db); its leave-one-out test split is evaluated.", Required = true };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (keys like ndcg@10, hr@10, mrr@10, users)." };
        var byDomain = new Option<bool>("--by-domain") { Description = "Also break the metrics down by the target item's domain." };
        var includeSeen = new Option<bool>("--include-seen") { Description = "Keep the user's already-seen items in the ranking." };
        var sampled = new Option<int>("--sampled-negatives") { Description = "Use the sampled protocol with N negatives instead of full ranking (labelled as such)." };
        var ks = new Option<int[]>("--k") { Description = "Cut-offs.", DefaultValueFactory = _ => [1, 5, 10, 20], AllowMultipleArgumentsPerToken = true };
        var cmd = new Command("evaluate", "Evaluate a model zip: leave-one-out test split, full ranking over the catalogue.") { model, data, json, byDomain, includeSeen, sampled, ks };
        var reading = new DatasetArguments();
        reading.AddTo(cmd);
        cmd.SetAction(p =>
        {
            try
            {
                var ctx = new RecContext();
                ctx.Log += (_, e) => Console.Error.WriteLine($"{e.Source}: {e.Message}");
                RecommenderModel m = ctx.Model.Load(p.GetValue(model)!);
                InteractionDataset d = reading.Load(p, p.GetValue(data)!);
                var options = new RankingEvaluatorOptions { Ks = p.GetValue(ks)!, ExcludeSeen = !p.GetValue(includeSeen), SampledNegatives = p.GetValue(sampled) };
                var rows = new List<(string Group, RankingMetrics Metrics)> { ("(all)", ctx.Ranking.Evaluate(m, d, options)) };
                if (p.GetValue(byDomain))
                {
                    rows.AddRange(ctx.Ranking.EvaluateByDomain(m, d, options));
                }

                if (p.GetValue(json))
                {
                    var o = Flat(rows[0].Metrics);
                    o["model"] = m.Kind;
                    o["dataset"] = d.Name;
                    o["protocol"] = rows[0].Metrics.Protocol;
                    o["train_seconds"] = Math.Round(m.Training.Seconds, 1);
                    o["epochs"] = m.Training.Epochs;
                    o["settings"] = m.Training.Settings;
                    if (rows.Count > 1)
                    {
                        o["domains"] = rows.Skip(1).ToDictionary(r => r.Group, r => (object)Flat(r.Metrics));
                    }

                    Console.WriteLine(JsonSerializer.Serialize(o));
                    return 0;
                }

                AnsiConsole.MarkupLineInterpolated($"{m.Kind} model on {d.Name}: {rows[0].Metrics.Users:N0} test users, {rows[0].Metrics.Protocol}");
                var table = new Table().AddColumns("users", "K", "HR@K", "NDCG@K", "MRR@K");
                foreach ((string group, RankingMetrics r) in rows)
                {
                    for (int i = 0; i < r.Ks.Count; i++)
                    {
                        table.AddRow(i == 0 ? Markup.Escape($"{group} ({r.Users:N0})") : string.Empty, r.Ks[i].ToString(CultureInfo.InvariantCulture),
                            Markup.Escape(r.HitRate[i].ToString()), Markup.Escape(r.Ndcg[i].ToString()), Markup.Escape(r.Mrr[i].ToString()));
                    }
                }

                AnsiConsole.Write(table);
                if (!double.IsNaN(rows[0].Metrics.CoverageAtMaxK))
                {
                    AnsiConsole.MarkupLineInterpolated($"catalogue coverage of the top {rows[0].Metrics.Ks.Max()} lists: {rows[0].Metrics.CoverageAtMaxK:P1}; intervals are bootstrap 95%");
                }

                return 0;
            }
            catch (Exception ex) when (UserErrors.Is(ex))
            {
                return UserErrors.Report(ex);
            }
        });
        return cmd;
    }

    /// <summary>Every metric, plus bootstrap 95% intervals of NDCG and HR at each K (<c>ndcg@10_ci</c>: [low, high]).</summary>
    private static Dictionary<string, object> Flat(RankingMetrics m)
    {
        var o = m.ToDictionary().ToDictionary(kv => kv.Key, kv => (object)(kv.Key == "users" ? (int)kv.Value : Math.Round(kv.Value, 6)));
        foreach (int k in m.Ks)
        {
            foreach (string name in (string[])[$"ndcg@{k}", $"hr@{k}"])
            {
                if (!double.IsNaN(m[name].Low))
                {
                    o[name + "_ci"] = new[] { Math.Round(m[name].Low, 5), Math.Round(m[name].High, 5) };
                }
            }
        }

        return o;
    }
}
