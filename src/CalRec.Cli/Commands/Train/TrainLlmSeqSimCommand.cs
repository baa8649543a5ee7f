using System.CommandLine;
using CalRec.Cli.Options;
using CalRec.MLNet;
using CalRec.Models.Embeddings;
using CalRec.Recommenders.LlmSeqSim;

namespace CalRec.Cli.Commands.Train;

/// <summary><c>calrec train llmseqsim</c>: sessions as aggregated item-text embeddings of a language model (no training beyond embedding).</summary>
internal static class TrainLlmSeqSimCommand
{
    public static Command Create()
    {
        var inputs = new TrainInputs();
        var settings = new DeclaredFlags<LlmSeqSimTrainer.Options>(() => new LlmSeqSimTrainer.Options());
        var lm = new LanguageModelArguments();
        var cmd = new Command(LlmSeqSimTrainer.ModelKind, "LLMSeqSim: rank items by cosine similarity to the aggregated text embeddings of the history (Harte et al.).");
        inputs.AddTo(cmd);
        settings.AddTo(cmd);
        lm.AddTo(cmd);
        CommandRunner.SetAction(cmd, (p, ct) =>
        {
            // The settings and the language model first: a mistake there is reported before the dataset is read.
            LlmSeqSimTrainer.Options options = settings.Read(p);
            ITextEncoder encoder = lm.Encoder(p);
            return inputs.FitAndSave(p, (trainers, items, _) => trainers.LlmSeqSim(encoder, new LlmSeqSimEstimatorOptions { Items = items, Trainer = options }), seed: 0, ct);
        });
        return cmd;
    }
}
