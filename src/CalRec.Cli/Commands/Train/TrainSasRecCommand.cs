using System.CommandLine;
using CalRec.Cli.Options;
using CalRec.MLNet;
using CalRec.Models.Embeddings;
using CalRec.Recommenders.SasRec;

namespace CalRec.Cli.Commands.Train;

/// <summary><c>calrec train sasrec</c> and <c>calrec train llm2sasrec</c> (the same settings, plus the language model whose text embeddings initialize the item table).</summary>
internal static class TrainSasRecCommand
{
    public static Command Create(bool llm)
    {
        var inputs = new TrainInputs();
        var settings = new DeclaredFlags<SasRecTrainer.Options>(() => new SasRecTrainer.Options());
        var lm = new LanguageModelArguments();
        var cmd = new Command(llm ? SasRecTrainer.Llm2SasRecModelKind : SasRecTrainer.ModelKind, llm
            ? "LLM2SASRec: SASRec whose item table starts from PCA-reduced text embeddings of a language model (Harte et al.)."
            : "SASRec: self-attentive sequential recommendation over item ids, full-softmax cross-entropy by default.");
        inputs.AddTo(cmd);
        settings.AddTo(cmd);
        if (llm)
        {
            lm.AddTo(cmd);
        }

        CommandRunner.SetAction(cmd, (p, ct) =>
        {
            SasRecTrainer.Options options = settings.Read(p);
            // The language model first: a missing or bad --lm is reported before the dataset is read.
            ITextEncoder? encoder = llm ? lm.Encoder(p) : null;
            return inputs.FitAndSave(p, (trainers, items) => encoder is null
                ? trainers.SasRec(new SasRecEstimatorOptions { Items = items, Trainer = options })
                : trainers.Llm2SasRec(encoder, new SasRecEstimatorOptions { Items = items, Trainer = options }), options.Seed, ct);
        });
        return cmd;
    }
}
