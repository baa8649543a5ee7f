using System.CommandLine;
using System.Diagnostics;
using CalRec.Cli.Options;
using CalRec.Data;
using CalRec.MLNet;
using Microsoft.ML;
using Spectre.Console;

namespace CalRec.Cli.Commands.Train;

/// <summary>
/// <c>calrec train calrec|sasrec|llm2sasrec|llmseqsim|mostpop</c>: fit a recommender on a dataset's leave-one-out
/// training split and save it as a model zip. Each subcommand carries exactly its trainer's settings.
/// </summary>
internal static class TrainCommand
{
    public static Command Create()
    {
        var cmd = new Command("train", "Train a recommender and save it as a model zip (one subcommand per recommender, each with its own settings).");
        cmd.Subcommands.Add(TrainCalRecCommand.Create());
        cmd.Subcommands.Add(TrainSasRecCommand.Create(llm: false));
        cmd.Subcommands.Add(TrainSasRecCommand.Create(llm: true));
        cmd.Subcommands.Add(TrainLlmSeqSimCommand.Create());
        cmd.Subcommands.Add(TrainMostPopularCommand.Create());
        return cmd;
    }
}

/// <summary>What every <c>train</c> subcommand reads and writes: <c>--target</c> (with the dataset-reading flags) and <c>--out</c>.</summary>
internal sealed class TrainInputs
{
    public Option<string> Target { get; } = new("--target") { Description = "Training dataset: a folder or file in any supported format, or a .db.", Required = true };

    public Option<string> Output { get; } = new("--out") { Description = "Model zip to write (replaced atomically).", Required = true };

    public DatasetArguments Reading { get; } = new();

    public void AddTo(Command command)
    {
        command.Options.Add(Target);
        command.Options.Add(Output);
        Reading.AddTo(command);
    }

    /// <summary>Loads a dataset with the reading flags, printing its warnings.</summary>
    public InteractionDataset Load(ParseResult p, string path)
    {
        InteractionDataset data = Reading.Load(p, path);
        foreach (string w in data.Warnings)
        {
            UserErrors.Warn(w);
        }

        return data;
    }

    /// <summary>
    /// Fits the estimator <paramref name="create"/> builds (given the trainers and the item catalogue table) on the
    /// target's interactions table, through ML.NET, and saves the model.
    /// </summary>
    /// <param name="p">The parsed command line.</param>
    /// <param name="create">Builds the estimator from the trainers, the item catalogue table and the run's training-curve recorder.</param>
    /// <param name="seed">The MLContext's seed.</param>
    /// <param name="ct">Stops training.</param>
    /// <param name="checkpoint">The trainer's checkpoint folder: removed once the model is saved; with
    /// <paramref name="resume"/> false, a leftover one is removed first (after the output lock is taken).</param>
    /// <param name="resume">Whether the run continues from <paramref name="checkpoint"/>.</param>
    public int FitAndSave(ParseResult p, Func<SequentialRecommendationTrainers, IDataView, TrainingCurveRecorder, SequentialRecommenderEstimator> create, ulong seed, CancellationToken ct,
        string? checkpoint = null, bool resume = false)
    {
        var clock = Stopwatch.StartNew();
        using OutputLock outputLock = OutputLock.Acquire(p.GetValue(Output)!);
        if (checkpoint is not null && !resume && Directory.Exists(checkpoint))
        {
            Directory.Delete(checkpoint, recursive: true);
        }

        var ml = new MLContext(unchecked((int)seed));
        TrainingLog.Attach(ml, clock);
        InteractionDataset data = Load(p, p.GetValue(Target)!);
        AnsiConsole.MarkupLineInterpolated($"{data.Name}: {data.Users.Count:N0} users, {data.ItemCount:N0} items, {data.InteractionCount:N0} interactions");
        InteractionTables tables = ml.SequentialRecommendation().Data.FromDatasets([data]);
        string output = p.GetValue(Output)!;
        using var curve = new TrainingCurveRecorder(output, resume);
        SequentialRecommendationTransformer model = create(ml.SequentialRecommendation().Trainers, tables.Items, curve).Fit(tables.Interactions, ct);
        ml.SequentialRecommendation().SaveModel(model, ModelFiles.HistorySchema, output);
        if (checkpoint is not null && Directory.Exists(checkpoint))
        {
            Directory.Delete(checkpoint, recursive: true);
        }

        AnsiConsole.MarkupLineInterpolated($"saved {model.Model.Kind} model ({model.Model.ItemCount:N0} items) to {output} after {clock.Elapsed.TotalSeconds:F1} s");
        return 0;
    }
}
