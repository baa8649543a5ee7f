using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using CalRec.Cli.Options;
using CalRec.Data;
using CalRec.Data.Splits;
using CalRec.Recommenders;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.Grounding;
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
        var users = new Option<int>("--users") { Description = "Evaluate a seeded sample of this many users of the split (0: all); generation-based grounding is slow." };
        var tune = new Option<bool>("--tune") { Description = "Choose gamma and the fusion weights on the dataset's validation users first (never its test targets)." };
        var tuneUsers = new Option<int>("--tune-users") { Description = "Validation users for --tune.", DefaultValueFactory = _ => GroundingTuner.DefaultValidationUsers };
        var saveTuned = new Option<bool>("--save-tuned") { Description = "With --tune, --tune-prior or --tune-identity: write the tuned settings into the model zip (atomically)." };
        var tunePrior = new Option<bool>("--tune-prior") { Description = "CALRec: choose the popularity prior w (score + w·ln(1 + training count)) on the dataset's validation users first (never its test targets)." };
        var tuneIdentity = new Option<bool>("--tune-identity") { Description = "CALRec with --item-ids: choose the identity head's weight λ (cosine + λ·next-identity logit) on the dataset's validation users first (never its test targets)." };
        var split = new Option<string>("--split")
        {
            Description = "Which leave-one-out targets to score: test (each user's last item, the default) or validation (the second-to-last, after the training part; what model selection sees).",
            DefaultValueFactory = _ => "test",
        };
        split.AcceptOnlyFromAmong("test", "validation");
        var against = new Option<string?>("--against") { Description = "Another model zip: also evaluate it on the same users and report the paired NDCG@10 difference with a bootstrap 95% interval." };
        var cmd = new Command("evaluate", "Evaluate a model zip: leave-one-out test split, full ranking over the catalogue.") { model, data, json, byDomain, includeSeen, sampled, ks, users, tune, tuneUsers, saveTuned, tunePrior, tuneIdentity, split, against };
        var reading = new DatasetArguments();
        reading.AddTo(cmd);
        var grounding = new GroundingArguments();
        grounding.AddTo(cmd);
        CommandRunner.SetAction(cmd, (p, _) =>
        {
            if (p.GetValue(users) < 0 || p.GetValue(tuneUsers) <= 0)
            {
                throw new ArgumentException(p.GetValue(users) < 0
                    ? $"--users: {p.GetValue(users)} is not a number of users (0 evaluates all of them)."
                    : $"--tune-users: {p.GetValue(tuneUsers)} is not a positive number of users.");
            }

            string splitName = p.GetValue(split)!;
            bool onValidation = splitName == "validation";
            if (onValidation && (p.GetValue(tune) || p.GetValue(tunePrior) || p.GetValue(tuneIdentity)))
            {
                throw new ArgumentException("--split validation: the --tune options choose their weights on the validation users, so scoring those users would grade the choice on its own data.");
            }

            Action<string> log = message => Console.Error.WriteLine(message);
            RecommenderModel m = ModelFiles.Load(p.GetValue(model)!);
            InteractionDataset d = reading.Load(p, p.GetValue(data)!);
            // CALRec score weights chosen on validation users: the identity head's λ, then the popularity prior's w.
            CalRecModel TuneWeight(string flag, string what, Func<CalRecModel, IReadOnlyList<EvaluationCase>, (CalRecModel, IReadOnlyList<(float Weight, double Ndcg10)>)> tune,
                Func<CalRecModel, float> chosen)
            {
                CalRecModel calrec = GroundingArguments.RequireCalRec(m, flag);
                IReadOnlyList<EvaluationCase> validation = CaseSampling.Sample(EvaluationCases.Validation(calrec, d, message => log($"evaluate: {message}")), p.GetValue(tuneUsers), 0xE7A1UL);
                (CalRecModel tuned, IReadOnlyList<(float Weight, double Ndcg10)> candidates) = tune(calrec, validation);
                log(string.Create(CultureInfo.InvariantCulture, $"{what} on {validation.Count} validation users: {string.Join(", ", candidates.Select(c => $"{c.Weight} NDCG@10 {c.Ndcg10:F4}"))}; chose {chosen(tuned)}"));
                if (p.GetValue(saveTuned))
                {
                    ModelFiles.Save(tuned, p.GetValue(model)!);
                    log($"{what} saved in {p.GetValue(model)}");
                }

                return tuned;
            }

            if (p.GetValue(tuneIdentity))
            {
                m = TuneWeight(tuneIdentity.Name, "identity weight λ", (c, v) => c.TuneIdentityWeight(v), c => c.Towers.IdentityWeight);
            }

            if (p.GetValue(tunePrior))
            {
                m = TuneWeight(tunePrior.Name, "popularity prior w", (c, v) => c.TunePopularityPrior(v), c => c.Towers.PopularityPrior);
            }

            var options = new RecommendationEvaluatorOptions { Ks = p.GetValue(ks)!, ExcludeSeen = !p.GetValue(includeSeen), SampledNegatives = p.GetValue(sampled) };
            (IRecommenderScorer scorer, string path) = grounding.Given(p) || p.GetValue(tune)
                ? Grounded(p, log, m, d, grounding, p.GetValue(tune) ? p.GetValue(tuneUsers) : null, p.GetValue(saveTuned) ? p.GetValue(model) : null)
                : (m, m.Kind == CalRecTrainer.ModelKind ? "dense" : m.Kind);

            IReadOnlyList<EvaluationCase> cases = onValidation
                ? EvaluationCases.Validation(m, d, message => log($"evaluate: {message}"))
                : EvaluationCases.Test(m, d, message => log($"evaluate: {message}"));
            int all = cases.Count;
            cases = CaseSampling.Sample(cases, p.GetValue(users), 0xE7A1UL);
            var clock = System.Diagnostics.Stopwatch.StartNew();
            RecommendationMetrics metrics = RecommendationEvaluator.Evaluate(scorer, cases, options);
            double msPerThousand = clock.Elapsed.TotalMilliseconds * 1000 / Math.Max(1, cases.Count);
            var rows = new List<(string Group, RecommendationMetrics Metrics)> { ("(all)", metrics) };
            MetricWithInterval? paired = null;
            if (p.GetValue(against) is string otherPath)
            {
                RecommenderModel other = ModelFiles.Load(otherPath);
                if (other.ItemCount != m.ItemCount || Enumerable.Range(0, m.ItemCount).Any(i => other.Catalog[i].Id != m.Catalog[i].Id))
                {
                    throw new ArgumentException($"--against: {otherPath} has a different catalogue; a paired comparison needs the same items.");
                }

                paired = metrics.CompareNdcg(RecommendationEvaluator.Evaluate(other, cases, options with { BootstrapSamples = 0 }), 10);
            }
            if (p.GetValue(byDomain))
            {
                rows.AddRange(metrics.BreakDown(i => m.Catalog[cases[i].Target].Domain ?? d.Name));
            }

            if (p.GetValue(json))
            {
                var o = Flat(rows[0].Metrics);
                o["model"] = m.Kind;
                o["dataset"] = d.Name;
                o["protocol"] = rows[0].Metrics.Protocol + (cases.Count < all ? $", seeded sample of {cases.Count} of {all} {splitName} users" : string.Empty);
                o["split"] = splitName;
                o["grounding"] = path;
                if (paired is MetricWithInterval diff)
                {
                    o["ndcg@10_minus_against"] = new[] { Math.Round(diff.Value, 5), Math.Round(diff.Low, 5), Math.Round(diff.High, 5) };
                }

                o["seconds_per_1000_users"] = Math.Round(msPerThousand / 1000, 2);
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

            AnsiConsole.MarkupLineInterpolated($"{m.Kind} model ({path}) on {d.Name}: {rows[0].Metrics.Users:N0} of {all:N0} {splitName} users, {rows[0].Metrics.Protocol}; {msPerThousand / 1000:F1} s per 1,000 users");
            var table = new Table().AddColumns("users", "K", "HR@K", "NDCG@K", "MRR@K");
            foreach ((string group, RecommendationMetrics r) in rows)
            {
                for (int i = 0; i < r.Ks.Count; i++)
                {
                    table.AddRow(i == 0 ? Markup.Escape($"{group} ({r.Users:N0})") : string.Empty, r.Ks[i].ToString(CultureInfo.InvariantCulture),
                        Markup.Escape(r.HitRate[i].ToString()), Markup.Escape(r.Ndcg[i].ToString()), Markup.Escape(r.Mrr[i].ToString()));
                }
            }

            AnsiConsole.Write(table);
            if (paired is MetricWithInterval d2)
            {
                AnsiConsole.MarkupLineInterpolated($"NDCG@10 minus {p.GetValue(against)}'s on the same users: {d2.ToString()} (an interval excluding 0: unlikely to be noise)");
            }

            if (!double.IsNaN(rows[0].Metrics.CoverageAtMaxK))
            {
                AnsiConsole.MarkupLineInterpolated($"catalogue coverage of the top {rows[0].Metrics.Ks.Max()} lists: {rows[0].Metrics.CoverageAtMaxK:P1}; intervals are bootstrap 95%");
            }

            return 0;
        });
        return cmd;
    }

    /// <summary>
    /// The grounded scorer of a CALRec model and its label for the output; with <paramref name="tuneUsers"/> the settings
    /// are first tuned on the dataset's validation users (never its test targets) and, given <paramref name="saveTo"/>,
    /// saved into that model zip as a new model.
    /// </summary>
    private static (IRecommenderScorer Scorer, string Label) Grounded(ParseResult p, Action<string> log, RecommenderModel m, InteractionDataset d, GroundingArguments grounding,
        int? tuneUsers, string? saveTo)
    {
        CalRecModel calrec = GroundingArguments.RequireCalRec(m, "--grounding/--tune");
        GroundingOptions g = grounding.Read(p, calrec);
        // Models saved before popularity was stored get it from this dataset's training split.
        float[]? popularity = calrec.Towers.Popularity is null ? GroundedScorer.TrainingPopularity(calrec, new LeaveOneOutSplit(d)) : null;
        RecommenderModel? collaborative = grounding.LoadCollaborative(p);
        GroundingEmbedder? embedder = grounding.LoadEmbedder(p);
        if (tuneUsers is int n)
        {
            g = GroundingTuner.Tune(calrec, EvaluationCases.Validation(calrec, d, message => log($"evaluate: {message}")), g, n, popularity, collaborative, embedder,
                message => log($"grounding: {message}"));
            if (saveTo is not null)
            {
                ModelFiles.Save(calrec.WithGrounding(g), saveTo);
                Console.Error.WriteLine($"grounding: tuned settings saved in {saveTo}");
            }
        }

        GroundedScorer grounded = new(calrec, g, popularity: popularity, collaborative: collaborative, embedder: embedder);
        string label = g.Path.ToString().ToLowerInvariant();
        bool usesEmbedding = g.Path == GroundingPath.Embedding
            || (g.Path == GroundingPath.Fusion && grounded.Options.FusionWeights.GetValueOrDefault(GroundingPath.Embedding) != 0);
        if (usesEmbedding && grounded.Options.Gamma > 0)
        {
            label += string.Create(CultureInfo.InvariantCulture, $", gamma {grounded.Options.Gamma} ({grounded.Options.Signal.ToString().ToLowerInvariant()})");
        }

        if (usesEmbedding && p.GetValue(grounding.EmbeddingBackbone) is string space)
        {
            label += $", embedded by {space}";
        }

        return (grounded, label);
    }

    /// <summary>Every metric, plus bootstrap 95% intervals of NDCG and HR at each K (<c>ndcg@10_ci</c>: [low, high]).</summary>
    private static Dictionary<string, object> Flat(RecommendationMetrics m)
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
