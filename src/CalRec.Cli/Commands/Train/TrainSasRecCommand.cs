using System.CommandLine;
using CalRec.Cli.Options;
using CalRec.MLNet;
using CalRec.Models.Embeddings;
using CalRec.Recommenders.SasRec;
using CalRec.Torch.Devices;
using CalRec.Torch.SasRec;
using CalRec.Torch.Training;

namespace CalRec.Cli.Commands.Train;

/// <summary><c>calrec train sasrec</c> and <c>calrec train llm2sasrec</c> (the same settings, plus the language model whose text embeddings initialize the item table).</summary>
internal static class TrainSasRecCommand
{
    public static Command Create(bool llm)
    {
        var inputs = new TrainInputs();
        var settings = new DeclaredFlags<SasRecTrainer.Options>(() => new SasRecTrainer.Options());
        var lm = new LanguageModelArguments();
        var engine = new BackendArguments();
        var resume = new Option<bool>("--resume") { Description = "Continue the run stopped by Ctrl+C or a crash from OUT.checkpoint/ (after its last completed epoch), with the settings saved there." };
        var cmd = new Command(llm ? SasRecTrainer.Llm2SasRecModelKind : SasRecTrainer.ModelKind, llm
            ? "LLM2SASRec: SASRec whose item table starts from PCA-reduced text embeddings of a language model (Harte et al.)."
            : "SASRec: self-attentive sequential recommendation over item ids, full-softmax cross-entropy by default.");
        inputs.AddTo(cmd);
        cmd.Options.Add(resume);
        engine.AddTo(cmd, precision: true);
        settings.AddTo(cmd);
        if (llm)
        {
            lm.AddTo(cmd);
        }

        CommandRunner.SetAction(cmd, (p, ct) =>
        {
            string checkpoint = Path.GetFullPath(p.GetValue(inputs.Output)! + ".checkpoint");
            SasRecTrainer.Options options;
            if (p.GetValue(resume))
            {
                if (!Directory.Exists(checkpoint))
                {
                    throw new DirectoryNotFoundException($"--resume: no interrupted run for {p.GetValue(inputs.Output)} (expected {checkpoint}/).");
                }

                if (settings.AnyGiven(p))
                {
                    throw new ArgumentException("--resume continues with the settings saved in the checkpoint; give no other SASRec settings with it.");
                }

                options = SasRecTrainer.Options.FromCheckpoint(checkpoint);
            }
            else
            {
                options = settings.Read(p) with { CheckpointDirectory = checkpoint };
            }

            // The language model first: a missing or bad --lm is reported before the dataset is read. On TorchSharp the
            // item texts are embedded on the training device too.
            (ComputeBackend backend, TorchSharp.torch.Device device) = engine.Resolve(p);
            ITextEncoder? encoder = llm ? lm.Encoder(p, backend == ComputeBackend.TorchSharp ? device : null) : null;
            TrainingPrecision precision = engine.ResolvePrecision(p, backend);
            SasRecEngineFactory? steps = backend == ComputeBackend.TorchSharp ? TorchSasRecEngine.On(device, precision) : null;
            return inputs.FitAndSave(p, (trainers, items, curve) => encoder is null
                ? trainers.SasRec(new SasRecEstimatorOptions { Items = items, Trainer = options, Engine = steps, Progress = curve.SasRec() })
                : trainers.Llm2SasRec(encoder, new SasRecEstimatorOptions { Items = items, Trainer = options, Engine = steps, Progress = curve.SasRec() }), options.Seed, ct, checkpoint, p.GetValue(resume));
        }, p =>
        {
            string checkpoint = p.GetValue(inputs.Output)! + ".checkpoint";
            return Directory.Exists(checkpoint) ? $"no model written; the run is saved in {checkpoint} (where it stopped): add --resume to continue." : "no model written.";
        });
        return cmd;
    }
}
