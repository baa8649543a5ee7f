using System.CommandLine;
using CalRec.Recommenders.SasRec;

namespace CalRec.Cli.Options;

/// <summary>SASRec hyper-parameter flags shared by <c>calrec train</c> and <c>calrec report baselines</c>; defaults are <see cref="SasRecOptions"/>'s.</summary>
internal sealed class SasRecArguments
{
    private static readonly SasRecOptions Defaults = new();

    public Option<int> Hidden { get; } = new("--hidden") { DefaultValueFactory = _ => Defaults.Hidden, Description = "SASRec hidden size." };

    public Option<int> Blocks { get; } = new("--blocks") { DefaultValueFactory = _ => Defaults.Blocks, Description = "SASRec transformer blocks." };

    public Option<int> Heads { get; } = new("--heads") { DefaultValueFactory = _ => Defaults.Heads, Description = "SASRec attention heads." };

    public Option<int> MaxLength { get; } = new("--max-length") { DefaultValueFactory = _ => Defaults.MaxLength, Description = "SASRec history length." };

    public Option<float> Dropout { get; } = new("--dropout") { DefaultValueFactory = _ => Defaults.Dropout, Description = "SASRec dropout." };

    public Option<int> Epochs { get; } = new("--epochs") { DefaultValueFactory = _ => Defaults.MaxEpochs, Description = "SASRec epoch limit." };

    public Option<int> Patience { get; } = new("--patience") { DefaultValueFactory = _ => Defaults.Patience, Description = "SASRec early-stopping patience (epochs)." };

    public Option<int> MinEpochs { get; } = new("--min-epochs") { DefaultValueFactory = _ => Defaults.MinEpochs, Description = "SASRec epochs before early stopping may stop." };

    public Option<double?> Minutes { get; } = new("--minutes") { Description = "SASRec training time budget in minutes (the best epoch so far is kept)." };

    public Option<float> LearningRate { get; } = new("--lr") { DefaultValueFactory = _ => Defaults.LearningRate, Description = "SASRec learning rate." };

    public Option<int> BatchSize { get; } = new("--batch-size") { DefaultValueFactory = _ => Defaults.BatchSize, Description = "SASRec users per step." };

    public Option<string> Batching { get; } = new("--batching") { DefaultValueFactory = _ => "random", Description = "SASRec batches: random (users in a fresh random order every epoch) or length (length-sorted buckets: less padding)." };

    public Option<string> Loss { get; } = new("--loss") { DefaultValueFactory = _ => "ce", Description = "SASRec loss: ce (full softmax) or bce (sampled negatives)." };

    public Option<int> Negatives { get; } = new("--negatives") { DefaultValueFactory = _ => Defaults.NegativeSamples, Description = "Negatives per position with --loss bce." };

    public Option<ulong> Seed { get; } = new("--seed") { DefaultValueFactory = _ => Defaults.Seed, Description = "Seed." };

    public void AddTo(Command command)
    {
        foreach (Option o in (Option[])[Hidden, Blocks, Heads, MaxLength, Dropout, Epochs, Patience, MinEpochs, Minutes, LearningRate, BatchSize, Batching, Loss, Negatives, Seed])
        {
            command.Options.Add(o);
        }
    }

    public SasRecOptions Read(ParseResult p) => new()
    {
        Hidden = p.GetValue(Hidden),
        Blocks = p.GetValue(Blocks),
        Heads = p.GetValue(Heads),
        MaxLength = p.GetValue(MaxLength),
        Dropout = p.GetValue(Dropout),
        MaxEpochs = p.GetValue(Epochs),
        Patience = p.GetValue(Patience),
        MinEpochs = p.GetValue(MinEpochs),
        TimeBudget = p.GetValue(Minutes) is double m ? TimeSpan.FromMinutes(m) : null,
        LearningRate = p.GetValue(LearningRate),
        BatchSize = p.GetValue(BatchSize),
        Batching = p.GetValue(Batching)?.ToLowerInvariant() switch
        {
            "random" or null => SasRecBatching.RandomUsers,
            "length" => SasRecBatching.LengthBuckets,
            string other => throw new ArgumentException($"--batching: '{other}' is not random or length."),
        },
        Loss = p.GetValue(Loss)?.ToLowerInvariant() switch
        {
            "ce" or "crossentropy" => SasRecLoss.CrossEntropy,
            "bce" => SasRecLoss.BinaryCrossEntropy,
            string other => throw new ArgumentException($"--loss: '{other}' is not ce or bce."),
            null => SasRecLoss.CrossEntropy,
        },
        NegativeSamples = p.GetValue(Negatives),
        Seed = p.GetValue(Seed),
    };
}
