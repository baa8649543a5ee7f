using System.CommandLine;
using System.Diagnostics;
using CalRec.Cli.Options;
using CalRec.Data;
using CalRec.Recommenders;
using CalRec.Recommenders.CalRec;
using Spectre.Console;

namespace CalRec.Cli.Commands.Train;

/// <summary>
/// <c>calrec train calrec</c>: CALRec's two-stage contrastive finetuning (stage 0 pretraining for a backbone from
/// scratch, stage 1 on the mixture, stage 2 on the target). Ctrl+C leaves <c>OUT.checkpoint/</c> and
/// <c>OUT.options.json</c>; <c>--resume</c> continues from them.
/// </summary>
internal static class TrainCalRecCommand
{
    public static Command Create()
    {
        var inputs = new TrainInputs();
        var args = new CalRecArguments();
        var cmd = new Command(CalRecTrainer.ModelKind, "CALRec: a decoder LM finetuned two-tower style on text-serialized histories (LM loss + two InfoNCE terms), stage 1 on a mixture, stage 2 on the target.");
        inputs.AddTo(cmd);
        args.AddTo(cmd);
        CommandRunner.SetAction(cmd, (p, ct) => Run(p, inputs, args, ct), p =>
        {
            string checkpoint = p.GetValue(inputs.Output)! + ".checkpoint";
            return Directory.Exists(checkpoint) ? $"no model written; the run is saved in {checkpoint}: add --resume to continue it." : "no model written.";
        });
        return cmd;
    }

    /// <summary>
    /// The target dataset (one of its domains with --domain) and the stage-1 mixture: --mixture datasets, or else the
    /// target dataset's domains when it has several.
    /// </summary>
    internal static (InteractionDataset Target, List<InteractionDataset> Mixture) Data(ParseResult p, string targetPath, CalRecArguments args, Func<string, InteractionDataset> load)
    {
        InteractionDataset data = load(targetPath);
        string? domain = p.GetValue(args.Domain);
        InteractionDataset target = domain is null ? data : data.ForDomain(domain);
        var mixture = args.MixturePaths(p).Select(load).ToList();
        if (mixture.Count == 0 && data.Domains.Count > 1)
        {
            mixture = data.Domains.Select(d => d == domain ? target : data.ForDomain(d)).ToList();
        }

        AnsiConsole.MarkupLineInterpolated($"target {target.Name}: {target.Users.Count:N0} users, {target.ItemCount:N0} items, {target.InteractionCount:N0} interactions; mixture: {(mixture.Count == 0 ? "none" : string.Join(", ", mixture.Select(m => $"{m.Name} ({m.Users.Count:N0} users)")))}");
        return (target, mixture);
    }

    private static int Run(ParseResult p, TrainInputs inputs, CalRecArguments args, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        string output = p.GetValue(inputs.Output)!;
        string optionsPath = output + ".options.json", checkpoint = output + ".checkpoint";
        CalRecTrainer.Options options;
        if (p.GetValue(args.Resume))
        {
            if (!File.Exists(optionsPath) || !Directory.Exists(checkpoint))
            {
                throw new FileNotFoundException($"--resume: no interrupted run for {output} (expected {optionsPath} and {checkpoint}/).", optionsPath);
            }

            if (args.Settings.AnyGiven(p))
            {
                throw new ArgumentException("--resume continues with the interrupted run's settings; give no other CALRec settings with it.");
            }

            options = CalRecArguments.Load(optionsPath);
            options.Resume = true;
            AnsiConsole.MarkupLineInterpolated($"resuming from [green]{checkpoint}[/] with the settings in {optionsPath}");
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

            CalRecArguments.Save(options, optionsPath);
        }

        var ctx = new RecContext((int)options.Seed);
        ctx.Log += (_, e) => AnsiConsole.MarkupLineInterpolated($"[grey]{clock.Elapsed:hh\\:mm\\:ss}[/] {e.Source}: {e.Message}");
        (InteractionDataset target, List<InteractionDataset> mixture) = Data(p, p.GetValue(inputs.Target)!, args, path => inputs.Load(p, path));
        CalRecTrainer trainer = ctx.Trainers.CalRec(options);
        CalRecModel model = Progress.TrainingProgressView.Run(trainer, () => trainer.Fit(target, mixture, ct));
        ctx.Model.Save(model, output);
        File.Delete(optionsPath);
        if (Directory.Exists(checkpoint))
        {
            // Stages write it at validations; a run whose stages never validate (stage 0 only, or a meta stage) leaves none.
            Directory.Delete(checkpoint, recursive: true);
        }

        AnsiConsole.MarkupLineInterpolated($"saved calrec model ({model.ItemCount:N0} items, validation NDCG@10 {model.Training.ValidationNdcg10:F4}) to {output} after {clock.Elapsed.TotalSeconds:F1} s");
        return 0;
    }
}
