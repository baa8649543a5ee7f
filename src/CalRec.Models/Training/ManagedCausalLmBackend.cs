using CalRec.Models.Checkpoints;
using CalRec.Models.Configuration;
using CalRec.Models.Decoder;
using CalRec.Tensors;
using CalRec.Tensors.Autograd;
using CalRec.Tensors.Memory;
using CalRec.Tensors.NN;
using CalRec.Tensors.Optim;
using CalRec.Text.Tokenization;

namespace CalRec.Models.Training;

/// <summary>
/// <see cref="ICausalLmBackend"/> on our engine: a <see cref="DecoderLM"/> with AdamW (β = 0.9, 0.95; matrices decay,
/// vectors do not), moments checkpointed as <c>optimizer.safetensors</c>.
/// </summary>
public sealed class ManagedCausalLmBackend : ICausalLmBackend
{
    private const string OptimizerFile = "optimizer.safetensors";
    private readonly DecoderLM _model;
    private readonly AdamWOptimizer _optimizer;

    /// <summary>Wraps <paramref name="model"/> with a fresh optimizer.</summary>
    public ManagedCausalLmBackend(DecoderLM model, float learningRate, float weightDecay)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _optimizer = new AdamWOptimizer(AdamWOptimizer.DecayGroups(model.parameters(), weightDecay), learningRate, 0.9f, 0.95f);
    }

    /// <inheritdoc />
    public DecoderConfig Config => _model.Config;

    /// <inheritdoc />
    public string Name => "managed";

    /// <inheritdoc />
    public long OptimizerSteps => _optimizer.StepCount;

    /// <inheritdoc />
    public SeededRandom? DropoutGenerator => _model.DropoutGenerator;

    /// <inheritdoc />
    public float TrainStep(IReadOnlyList<TokenBatch> microBatches, float learningRate, float clipNorm)
    {
        ArgumentNullException.ThrowIfNull(microBatches);
        _model.train();
        _optimizer.LearningRate = learningRate;
        _optimizer.zero_grad();
        double total = 0;
        foreach (TokenBatch micro in microBatches)
        {
            using TensorScope scope = TensorScope.Begin();
            ManagedTensor loss = _model.Loss(micro.Ids, micro.Targets, micro.Batch, micro.Seq);
            total += loss.item() * micro.Share;
            (microBatches.Count == 1 ? loss : loss.mul(micro.Share)).backward();
        }

        using (TensorScope.Begin())
        {
            GradientClipping.clip_grad_norm_(_model.parameters(), clipNorm);
            _optimizer.step();
        }

        return (float)total;
    }

    /// <inheritdoc />
    public float Loss(int[] ids, int[] targets, int batch, int seq)
    {
        using NeuralModule.ModeScope eval = _model.EvalScope();
        using Tape.NoGradScope noGrad = Tape.no_grad();
        using TensorScope scope = TensorScope.Begin();
        return _model.Loss(ids, targets, batch, seq).item();
    }

    /// <inheritdoc />
    public void WriteModel(string folder, ByteLevelBpeTokenizer? tokenizer) => HuggingFaceCheckpoint.WriteFiles(_model, tokenizer, folder);

    /// <inheritdoc />
    public void WriteOptimizer(string folder) => TrainingCheckpoint.SaveOptimizer(_optimizer, _model, Path.Combine(folder, OptimizerFile));

    /// <inheritdoc />
    public void RestoreOptimizer(string folder, long steps)
    {
        TrainingCheckpoint.RestoreOptimizer(_optimizer, _model, Path.Combine(folder, OptimizerFile));
        _optimizer.RestoreStepCount(steps);
    }
}
