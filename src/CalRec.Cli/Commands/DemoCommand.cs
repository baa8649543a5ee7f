using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using CalRec.Cli.Options;
using CalRec.Data;
using CalRec.Data.Synthetic;
using CalRec.Models.Checkpoints;
using CalRec.MLNet;
using CalRec.MLNet.Tables;
using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.Evaluation;
using CalRec.Recommenders.MostPopular;
using CalRec.Recommenders.SasRec;
using Microsoft.ML;
using Spectre.Console;

namespace CalRec.Cli.Commands;

/// <summary>
/// <c>calrec demo</c>: the main job end to end. On the embedded default (a seeded synthetic catalogue in three domains,
/// generated here) or on given datasets (<c>--target</c>, <c>--domain</c>, <c>--mixture</c>): trains MostPopular and
/// SASRec on the target, then CALRec (stage 0 LM pretraining, stage 1 on the mixture, stage 2 on the target), evaluates
/// all three on the target's leave-one-out test split with full ranking, prints the table, saves the CALRec model zip
/// and its backbone, reloads the zip and recommends for one user.
/// </summary>
internal static class DemoCommand
{
    public static Command Create()
    {
        var output = new Option<DirectoryInfo>("--out") { Description = "Output folder (model zip, backbone, results).", DefaultValueFactory = _ => new DirectoryInfo(Path.Combine("runs", "demo")) };
        var target = new Option<string?>("--target") { Description = "Target dataset (default: the embedded synthetic catalogue, domain 'beauty')." };
        var users = new Option<int>("--users-per-domain") { Description = "Users per domain of the synthetic catalogue.", DefaultValueFactory = _ => 600 };
        var sasrecMinutes = new Option<double>("--sasrec-minutes") { Description = "SASRec training budget in minutes.", DefaultValueFactory = _ => 2 };
        var calrec = new CalRecArguments(Defaults);
        var reading = new DatasetArguments();
        var cmd = new Command("demo", "Run the main job end to end: baselines and two-stage CALRec on the embedded synthetic catalogue (or given datasets), evaluated side by side.")
        {
            output, target, users, sasrecMinutes,
        };
        calrec.AddTo(cmd, resumable: false);
        reading.AddTo(cmd);
        CommandRunner.SetAction(cmd, (p, ct) => Run(p, p.GetValue(output)!, p.GetValue(target), p.GetValue(users), p.GetValue(sasrecMinutes), calrec, reading, ct));
        return cmd;
    }

    /// <summary>The defaults of the demo: sized to run the whole pipeline on the synthetic catalogue in a few minutes on 2 cores.</summary>
    internal static CalRecTrainer.Options Defaults() => new()
    {
        Backbone = "mini",
        VocabularySize = 1024,
        PretrainSteps = 150,
        PretrainSequenceLength = 128,
        Stage1 = new CalRecStageOptions { Epochs = 1, LearningRate = 1e-3f },
        Stage2 = new CalRecStageOptions { Epochs = 3, LearningRate = 1e-3f },
        BatchSize = 16,
        MaxHistory = 8,
        MaxItemTokens = 24,
        ValidationUsers = 300,
        Members = 1,
        Seed = 42,
    };

    private static int Run(ParseResult p, DirectoryInfo outDir, string? targetPath, int usersPerDomain, double sasrecMinutes, CalRecArguments args,
        DatasetArguments reading, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        CalRecTrainer.Options options = args.Read(p);
        var ml = new MLContext((int)options.Seed);
        TrainingLog.Attach(ml, clock);

        AnsiConsole.MarkupLine("[bold]1/5[/] data");
        InteractionDataset target;
        List<InteractionDataset> mixture;
        if (targetPath is null)
        {
            InteractionDataset all = SyntheticCatalog.Generate(new SyntheticCatalogOptions { Seed = options.Seed, UsersPerDomain = usersPerDomain }).ToDataset();
            string domain = p.GetValue(args.Domain) ?? "beauty";
            target = all.ForDomain(domain);
            mixture = all.Domains.Select(d => d == domain ? target : all.ForDomain(d)).ToList();
            AnsiConsole.MarkupLineInterpolated($"    synthetic catalogue (seed {options.Seed}): {all.ItemCount} items in {all.Domains.Count} domains, {all.Users.Count:N0} users; target domain '{domain}': {target.Users.Count:N0} users, {target.ItemCount} items");
        }
        else
        {
            (target, mixture) = args.TargetAndMixture(p, targetPath, path => reading.Load(p, path));
        }

        // From here on everything goes through ML.NET: tables in, estimators, scored tables, metrics, the model zip.
        SequentialRecommendationCatalog rec = ml.SequentialRecommendation();
        InteractionTables targetTables = rec.Data.FromDatasets([target]);
        (InteractionTables allTables, string? targetDomain, IReadOnlyList<string>? mixtureDomains) = CalRecArguments.Tables(rec.Data, target, mixture);
        IDataView test = rec.Data.LeaveOneOutTestSet(targetTables.Interactions, new MostPopularEstimatorOptions { Items = targetTables.Items });
        var rows = new List<(string Model, RecommendationMetrics Metrics, double Seconds)>();

        AnsiConsole.MarkupLine("[bold]2/5[/] baselines on the target");
        var watch = Stopwatch.StartNew();
        SequentialRecommendationTransformer pop = rec.Trainers.MostPopular(new MostPopularEstimatorOptions { Items = targetTables.Items, TopK = 20 }).Fit(targetTables.Interactions, ct);
        rows.Add(("MostPopular", Evaluate(rec, pop, test, target.ItemCount), watch.Elapsed.TotalSeconds));
        watch.Restart();
        var sasrecOptions = new SasRecEstimatorOptions
        {
            Items = targetTables.Items,
            TopK = 20,
            Trainer = new SasRecTrainer.Options { Hidden = 64, MaxLength = 20, Dropout = 0.3f, MaxEpochs = 200, Patience = 10, MaxMinutes = sasrecMinutes, Seed = options.Seed },
        };
        SequentialRecommendationTransformer sasrec = rec.Trainers.SasRec(sasrecOptions).Fit(targetTables.Interactions, ct);
        rows.Add(("SASRec", Evaluate(rec, sasrec, test, target.ItemCount), watch.Elapsed.TotalSeconds));

        AnsiConsole.MarkupLine("[bold]3/5[/] CALRec: stage 0 pretraining, stage 1 on the mixture, stage 2 on the target");
        watch.Restart();
        var calrecOptions = new CalRecEstimatorOptions { Items = allTables.Items, TargetDomain = targetDomain, MixtureDomains = mixtureDomains, TopK = 20, Trainer = options };
        SequentialRecommendationTransformer calrec = rec.Trainers.CalRec(calrecOptions).Fit(allTables.Interactions, ct);
        double calrecSeconds = watch.Elapsed.TotalSeconds;

        AnsiConsole.MarkupLine("[bold]4/5[/] full-ranking evaluation on the target's test split (seen items excluded)");
        rows.Add(("CALRec", Evaluate(rec, calrec, test, target.ItemCount), calrecSeconds));
        var table = new Table().AddColumns("model", "NDCG@10", "95% CI", "HR@10", "NDCG@20", "HR@20", "train s");
        foreach ((string name, RecommendationMetrics m, double s) in rows)
        {
            MetricWithInterval n10 = m["ndcg@10"];
            table.AddRow(name, F(n10.Value), $"{F(n10.Low)}-{F(n10.High)}", F(m["hr@10"].Value), F(m["ndcg@20"].Value), F(m["hr@20"].Value), s.ToString("F1", CultureInfo.InvariantCulture));
        }

        AnsiConsole.Write(table);
        MetricWithInterval diff = rows[2].Metrics.CompareNdcg(rows[1].Metrics, 10);
        AnsiConsole.MarkupLineInterpolated($"    CALRec - SASRec NDCG@10 on the same {rows[2].Metrics.Users:N0} users: {diff.ToString()}");

        AnsiConsole.MarkupLine("[bold]5/5[/] saving, reloading and serving");
        outDir.Create();
        string zip = Path.Combine(outDir.FullName, "calrec.zip");
        rec.SaveModel(calrec, ModelFiles.HistorySchema, zip);
        var model = (CalRecModel)calrec.Model;
        HuggingFaceCheckpoint.Save(model.Backbone, model.Tokenizer, Path.Combine(outDir.FullName, "backbone"));
        ITransformer loaded = new MLContext().SequentialRecommendation().LoadModel(zip, out _);
        EvaluationRow sample = ml.Data.CreateEnumerable<EvaluationRow>(test, reuseRowObject: false).First();
        string[] history = sample.History.TakeLast(4).ToArray();
        string Title(string id) => model.Catalog[model.IndexOf(id)!.Value].Title;
        AnsiConsole.MarkupLineInterpolated($"    saved [green]{zip}[/] (an ML.NET model zip) and the backbone (Hugging Face layout) in {Path.Combine(outDir.FullName, "backbone")}");
        AnsiConsole.MarkupLineInterpolated($"    user {sample.UserId} recently: {string.Join(" | ", history.Select(Title))}");
        RecommendationRow next = ml.Model.CreatePredictionEngine<HistoryRow, RecommendationRow>(loaded).Predict(new HistoryRow { UserId = sample.UserId, History = history });
        foreach ((string id, float score) in next.PredictedItemIds.Zip(next.Scores).Take(5))
        {
            AnsiConsole.MarkupLineInterpolated($"      {score,7:F3}  {id}  {Title(id)}");
        }

        AnsiConsole.MarkupLineInterpolated($"done in {clock.Elapsed.TotalMinutes:F1} min");
        return 0;
    }

    private static RecommendationMetrics Evaluate(SequentialRecommendationCatalog rec, ITransformer model, IDataView test, int catalogSize) =>
        rec.Evaluate(model.Transform(test), ks: [1, 5, 10, 20], catalogSize: catalogSize);

    private static string F(double x) => x.ToString("F4", CultureInfo.InvariantCulture);
}
