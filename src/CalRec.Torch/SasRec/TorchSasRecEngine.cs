using CalRec.Recommenders.SasRec;
using CalRec.Tensors;
using CalRec.Tensors.Optim;
using CalRec.Torch.Decoder;
using CalRec.Torch.Training;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CalRec.Torch.SasRec;

/// <summary>
/// <see cref="ISasRecEngine"/> on TorchSharp: SASRec's network on the device, its loss (full-softmax cross-entropy over
/// the catalogue, or binary cross-entropy against sampled negatives, each written as our engine writes it) and AdamW
/// as our engine configures it (β = 0.9, 0.98, no weight decay). Dropout masks come from LibTorch's generator.
/// </summary>
public sealed class TorchSasRecEngine : ISasRecEngine
{
    private readonly TorchSasRecNetwork _model;
    private readonly AdamW _optimizer;
    private readonly SasRecEngineSettings _settings;
    private readonly Device _device;
    private readonly TorchMixedPrecision? _mixed;

    /// <summary>
    /// Copies <paramref name="weights"/> onto <paramref name="device"/> with a fresh optimizer; with
    /// <see cref="TrainingPrecision.BFloat16"/> the steps run on a bfloat16 working copy (<see cref="TorchMixedPrecision"/>).
    /// </summary>
    public TorchSasRecEngine(IEnumerable<(string Name, ManagedTensor Parameter)> weights, SasRecEngineSettings settings, Device device,
        TrainingPrecision precision = TrainingPrecision.Float32)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _settings = settings;
        _device = device;
        // Dropout masks from LibTorch's generator, seeded: the same run repeats (on one device and thread count).
        random.manual_seed(unchecked((long)settings.Seed));
        _model = new TorchSasRecNetwork(settings);
        TorchParameters.CopyInto(weights, _model);
        _model.to(device);
        _model.train();
        _optimizer = optim.AdamW(_model.parameters(), lr: 1e-3, beta1: settings.Beta1, beta2: settings.Beta2, weight_decay: 0);
        if (precision == TrainingPrecision.BFloat16)
        {
            var working = new TorchSasRecNetwork(settings);
            TorchParameters.CopyBetween(_model, working);
            working.to(device);
            working.train();
            _mixed = new TorchMixedPrecision(_model, working);
        }
    }

    /// <summary>The factory to give SASRec's training for <paramref name="device"/>.</summary>
    public static SasRecEngineFactory On(Device device, TrainingPrecision precision = TrainingPrecision.Float32) =>
        (weights, settings) => new TorchSasRecEngine(weights, settings, device, precision);

    /// <inheritdoc />
    public float Step(IReadOnlyList<SasRecBatch> microBatches, float learningRate)
    {
        ArgumentNullException.ThrowIfNull(microBatches);
        foreach (var group in _optimizer.ParamGroups)
        {
            group.LearningRate = learningRate;
        }

        _optimizer.zero_grad();
        _mixed?.PullWeights();
        var net = (TorchSasRecNetwork?)_mixed?.Working ?? _model;
        double total = 0;
        foreach (SasRecBatch micro in microBatches)
        {
            using var scope = NewDisposeScope();
            Tensor loss = Loss(net, micro.Rows, micro.Batch, micro.Length, micro.Positions, micro.Targets, micro.Negatives);
            total += loss.item<float>() * micro.Share;
            (microBatches.Count == 1 ? loss : loss * micro.Share).backward();
        }

        _mixed?.PushGradients();
        using (NewDisposeScope())
        {
            _optimizer.step();
        }

        return (float)total;
    }

    /// <summary>The loss of one batch (with gradients), as <see cref="Step"/> minimizes it.</summary>
    internal Tensor Loss(int[] rows, int batch, int length, int[] positions, int[] targets, int[][]? negatives) =>
        Loss(_model, rows, batch, length, positions, targets, negatives);

    private Tensor Loss(TorchSasRecNetwork net, int[] rows, int batch, int length, int[] positions, int[] targets, int[][]? negatives)
    {
        Tensor hidden = net.Forward(Longs(rows, [batch, length])).reshape(batch * length, _settings.Hidden).index_select(0, Longs(positions, [positions.Length]));
        if (negatives is null)
        {
            return F.cross_entropy(net.Scores(hidden), Longs(targets, [targets.Length]));
        }

        // Each score s as the logits row [0, s]: cross-entropy -log σ(s) for the positive, -log(1 - σ(s)) per negative.
        int p = targets.Length;
        Tensor origin = zeros(p, 1, device: _device);
        Tensor RowScores(int[] tableRows) => (hidden * net.ItemTable.index_select(0, Longs(tableRows, [p]))).sum(-1, keepdim: true);
        Tensor loss = F.cross_entropy(cat([origin, RowScores(targets.Select(i => i + 1).ToArray())], 1), ones(p, dtype: int64, device: _device));
        foreach (int[] negative in negatives)
        {
            loss = loss + F.cross_entropy(cat([origin, RowScores(negative)], 1), zeros(p, dtype: int64, device: _device));
        }

        return loss;
    }

    /// <inheritdoc />
    public void CopyWeightsTo(IEnumerable<(string Name, ManagedTensor Parameter)> parameters) => TorchParameters.CopyInto(_model, parameters);

    /// <inheritdoc />
    public void CopyOptimizerStateTo(IEnumerable<(string Name, ManagedTensor Parameter)> parameters, AdamWOptimizer optimizer) =>
        TorchAdamW.CopyStateTo(_optimizer, _model, parameters, optimizer);

    /// <inheritdoc />
    public void LoadOptimizerStateFrom(IEnumerable<(string Name, ManagedTensor Parameter)> parameters, AdamWOptimizer optimizer) =>
        TorchAdamW.LoadStateFrom(_optimizer, _model, parameters, optimizer);

    /// <summary>Releases the device copy.</summary>
    public void Dispose()
    {
        _mixed?.Dispose();
        _optimizer.Dispose();
        _model.Dispose();
    }

    /// <summary>The gradients of the last backward pass into our network's parameters (for parity tests).</summary>
    internal void CopyGradientsTo(IEnumerable<(string Name, ManagedTensor Parameter)> parameters)
    {
        var grads = _model.named_parameters().ToDictionary(p => p.name, p => p.parameter.grad, StringComparer.Ordinal);
        foreach ((string name, ManagedTensor p) in parameters)
        {
            using Tensor g = grads[name]!.detach().cpu().contiguous();
            g.data<float>().CopyTo(p.Data);
        }
    }

    /// <summary>Training or evaluation mode (dropout).</summary>
    internal void Train(bool on) => _model.train(on);

    private Tensor Longs(int[] values, long[] shape) => tensor(values.Select(v => (long)v).ToArray(), shape, device: _device);
}
