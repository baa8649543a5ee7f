using System.CommandLine;
using System.Diagnostics;
using CalRec.Cli.Options;
using CalRec.Data;
using CalRec.MLNet;
using CalRec.Recommenders.CalRec;
using CalRec.Torch.CalRec;
using CalRec.Torch.Devices;
using CalRec.Torch.Training;
using Microsoft.ML;
using Spectre.Console;

namespace CalRec.Cli.Commands.Train;

/// <summary>
/// <c>calrec train calrec</c>: CALRec's two-stage contrastive finetuning (stage 0 pretraining for a backbone from
/// scratch, stage 1 on the mixture, stage 2 on the target). Ctrl+C leaves <c>OUT.checkpoint/</c> (with the run's
/// settings); <c>--resume</c> continues from it.
/// </summary>
internal static class TrainCalRecCommand
{
    public static Command Create()
    {
        var inputs = new TrainInputs();
        var args = new CalRecArguments();
        var engine = new BackendArguments();
        var cmd = new Command(CalRecTrainer.ModelKind, "CALRec: a decoder LM finetuned two-tower style on text-serialized histories (LM loss + two InfoNCE terms), stage 1 on a mixture, stage 2 on the target.");
        inputs.AddTo(cmd);
        args.AddTo(cmd);
        engine.AddTo(cmd, precision: true);
        CommandRunner.SetAction(cmd, (p, ct) => Run(p, inputs, args, engine, ct), p =>
        {
            string checkpoint = p.GetValue(inputs.Output)! + ".checkpoint";
            return Directory.Exists(checkpoint) ? $"no model written; the run is saved in {checkpoint}: add --resume (with the same --target and --mixture) to continue it." : "no model written.";
        });
        return cmd;
    }

    private static int Run(ParseResult p, TrainInputs inputs, CalRecArguments args, BackendArguments engine, CancellationToken ct)
    {
        (ComputeBackend backend, TorchSharp.torch.Device device) = engine.Resolve(p);
        TrainingPrecision precision = engine.ResolvePrecision(p, backend);
        var clock = Stopwatch.StartNew();
        string output = p.GetValue(inputs.Output)!;
        string checkpoint = output + ".checkpoint";
        using OutputLock outputLock = OutputLock.Acquire(output);
        CalRecTrainer.Options options;
        if (p.GetValue(args.Resume))
        {
            if (!Directory.Exists(checkpoint))
            {
                throw new DirectoryNotFoundException($"--resume: no interrupted run for {output} (expected {checkpoint}/).");
            }

            if (args.Settings.AnyGiven(p) || p.GetValue(args.Config) is not null)
            {
                throw new ArgumentException("--resume continues with the settings saved in the checkpoint; give no other CALRec settings with it.");
            }

            options = CalRecTrainer.Options.FromCheckpoint(checkpoint);
            AnsiConsole.MarkupLineInterpolated($"resuming from [green]{checkpoint}[/] with the settings saved in it");
        }
        else
        {
            options = args.Read(p);
            options.CheckpointDirectory = Path.GetFullPath(checkpoint);
            options.Resume = false;
            if (Directory.Exists(checkpoint))
            {
                Directory.Delete(checkpoint, recursive: true);
            }
        }

        var ml = new MLContext(unchecked((int)options.Seed));
        TrainingLog.Attach(ml, clock);
        (InteractionDataset target, List<InteractionDataset> mixture) = args.TargetAndMixture(p, p.GetValue(inputs.Target)!, path => inputs.Load(p, path));
        // Through ML.NET: one interactions table and one catalogue holding the target and the mixture, told apart by domain.
        (InteractionTables tables, string? targetDomain, IReadOnlyList<string>? mixtureDomains) = CalRecArguments.Tables(ml.SequentialRecommendation().Data, target, mixture);
        var estimatorOptions = new CalRecEstimatorOptions
        {
            Items = tables.Items,
            Trainer = options,
            TargetDomain = targetDomain,
            MixtureDomains = mixtureDomains,
            // The finetuning stages on TorchSharp when asked (stage 0, validation and grounding stay on our engine).
            Engine = backend == ComputeBackend.TorchSharp ? TorchCalRecEngine.On(device, precision) : null,
        };
        using var curve = new TrainingCurveRecorder(output, p.GetValue(args.Resume));
        SequentialRecommendationTransformer model = Progress.TrainingProgressView.Run(progress =>
        {
            estimatorOptions.Progress = curve.Around(progress);
            return ml.SequentialRecommendation().Trainers.CalRec(estimatorOptions).Fit(tables.Interactions, ct);
        });
        ml.SequentialRecommendation().SaveModel(model, ModelFiles.HistorySchema, output);
        if (Directory.Exists(checkpoint))
        {
            // Stages write it at validations; a run whose stages never validate (stage 0 only, or a meta stage) leaves none.
            Directory.Delete(checkpoint, recursive: true);
        }

        AnsiConsole.MarkupLineInterpolated($"saved calrec model ({model.Model.ItemCount:N0} items, validation NDCG@10 {model.Model.Training.ValidationNdcg10:F4}) to {output} after {clock.Elapsed.TotalSeconds:F1} s");
        return 0;
    }
}
