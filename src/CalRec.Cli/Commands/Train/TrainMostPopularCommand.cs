using System.CommandLine;
using CalRec.Recommenders.MostPopular;

namespace CalRec.Cli.Commands.Train;

/// <summary><c>calrec train mostpop</c>: the training split's most frequent items, the same list for everyone.</summary>
internal static class TrainMostPopularCommand
{
    public static Command Create()
    {
        var inputs = new TrainInputs();
        var cmd = new Command(MostPopularTrainer.ModelKind, "MostPopular: the training split's most frequent items for everyone.");
        inputs.AddTo(cmd);
        CommandRunner.SetAction(cmd, (p, ct) => inputs.FitAndSave(p, (trainers, items, _) => trainers.MostPopular(new MLNet.MostPopularEstimatorOptions { Items = items }), seed: 0, ct));
        return cmd;
    }
}
