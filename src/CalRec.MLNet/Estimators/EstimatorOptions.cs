using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.LlmSeqSim;
using CalRec.Recommenders.SasRec;

namespace CalRec.MLNet;

/// <summary>MostPopular's options: the shared columns only (it has no hyper-parameters).</summary>
public sealed class MostPopularEstimatorOptions : SequentialRecommenderOptions
{
}

/// <summary>SASRec's (and LLM2SASRec's) options: the shared columns and the trainer's hyper-parameters.</summary>
public sealed class SasRecEstimatorOptions : SequentialRecommenderOptions
{
    /// <summary>SASRec's hyper-parameters (declared once, in <see cref="SasRecTrainer.Options"/>).</summary>
    public SasRecTrainer.Options Trainer { get; set; } = new();

    /// <summary>
    /// The engine of the training steps (null: ours, the CPU default). For an NVIDIA GPU, with CalRec.Torch:
    /// <c>options.UseTorchSharp(mlContext)</c>.
    /// </summary>
    public SasRecEngineFactory? Engine { get; set; }

    /// <summary>Receives every epoch's report (loss, validation NDCG@10, seconds) as training goes (null: none).</summary>
    public IProgress<SasRecEpochReport>? Progress { get; set; }
}

/// <summary>LLMSeqSim's options: the shared columns and the trainer's settings.</summary>
public sealed class LlmSeqSimEstimatorOptions : SequentialRecommenderOptions
{
    /// <summary>LLMSeqSim's settings (declared once, in <see cref="LlmSeqSimTrainer.Options"/>).</summary>
    public LlmSeqSimTrainer.Options Trainer { get; set; } = new();
}

/// <summary>
/// CALRec's options: the shared columns, the trainer's settings, and the target domain. When the catalogue has more
/// than one domain (<see cref="SequentialRecommenderOptions.DomainColumnName"/>), stage 1 trains on the mixture of all
/// of them and stage 2 on <see cref="TargetDomain"/>.
/// </summary>
public sealed class CalRecEstimatorOptions : SequentialRecommenderOptions
{
    /// <summary>CALRec's settings (declared once, in <see cref="CalRecTrainer.Options"/>).</summary>
    public CalRecTrainer.Options Trainer { get; set; } = new();

    /// <summary>The domain stage 2 trains on and the model recommends from; null: the whole table.</summary>
    public string? TargetDomain { get; set; }

    /// <summary>
    /// The domains stage 1 trains on; null: every domain of the table (the target included, as in the paper). Leave the
    /// target out to hold it out of stage 1 (meta-learning and transfer studies).
    /// </summary>
    public IReadOnlyList<string>? MixtureDomains { get; set; }

    /// <summary>
    /// Receives every optimizer step's losses, throughput and validations as they happen (on the training thread, so
    /// implementations should be quick); null: only the phase messages on <c>MLContext.Log</c>.
    /// </summary>
    public IProgress<CalRecProgress>? Progress { get; set; }

    /// <summary>
    /// The engine of the finetuning stages (null: ours, the CPU default). For an NVIDIA GPU, with CalRec.Torch:
    /// <c>options.UseTorchSharp(mlContext)</c>, which honours <c>MLContext.GpuDeviceId</c> and <c>FallbackToCpu</c> as
    /// ML.NET's TorchSharp trainers do.
    /// </summary>
    public CalRecEngineFactory? Engine { get; set; }
}
