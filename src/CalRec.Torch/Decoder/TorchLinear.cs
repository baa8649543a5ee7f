using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CalRec.Torch.Decoder;

/// <summary>
/// A linear layer (<c>weight</c> [out, in], optional <c>bias</c>) that can carry a LoRA adapter registered as
/// <c>lora_A</c> / <c>lora_B</c> beneath it, as our engine's <c>LinearLayer</c> and PEFT name them:
/// y = x·Wᵀ + b + (α / r)·B(A(dropout(x))).
/// </summary>
public sealed class TorchLinear : nn.Module<Tensor, Tensor>
{
    // The fields carry their registered names: Module.to(device or dtype) replaces a parameter field by the name
    // ComponentName gives it, so that the field and the registered parameter stay one tensor.
    [TorchSharp.Utils.ComponentName(Name = "weight")]
    private TorchSharp.Modules.Parameter _weight;
    [TorchSharp.Utils.ComponentName(Name = "bias")]
    private TorchSharp.Modules.Parameter? _bias;
    private TorchSharp.Modules.Linear? _loraA;
    private TorchSharp.Modules.Linear? _loraB;
    private double _scale;
    private double _dropout;

    internal TorchLinear(long inFeatures, long outFeatures, bool hasBias)
        : base("linear")
    {
        // PyTorch's default initialization; weights are normally copied in from our engine or a checkpoint.
        _weight = new TorchSharp.Modules.Parameter(empty(outFeatures, inFeatures));
        nn.init.kaiming_uniform_(_weight, Math.Sqrt(5));
        register_parameter("weight", _weight);
        if (hasBias)
        {
            double bound = 1 / Math.Sqrt(inFeatures);
            _bias = new TorchSharp.Modules.Parameter(empty(outFeatures).uniform_(-bound, bound));
            register_parameter("bias", _bias);
        }
    }

    /// <summary>The weight [out, in].</summary>
    public TorchSharp.Modules.Parameter Weight => _weight;

    /// <summary>The adapter's rank, or 0 without one.</summary>
    public long LoraRank => _loraA?.weight!.shape[0] ?? 0;

    /// <summary>The adapter's α (its output is scaled by α / rank), or 0 without one.</summary>
    public float LoraAlpha => (float)(_scale * LoraRank);

    /// <summary>The dropout on the adapter's input while training.</summary>
    public float LoraDropout => (float)_dropout;

    /// <summary>Attaches a LoRA adapter (A [rank, in], B [out, rank] = 0) and freezes the weight and bias.</summary>
    public void AttachLora(int rank, float alpha, float dropout)
    {
        if (_loraA is not null)
        {
            throw new InvalidOperationException("This layer already has a LoRA adapter.");
        }

        _loraA = nn.Linear(_weight.shape[1], rank, hasBias: false, device: _weight.device);
        _loraB = nn.Linear(rank, _weight.shape[0], hasBias: false, device: _weight.device);
        using (no_grad())
        {
            _loraB.weight!.zero_();
        }

        (_scale, _dropout) = (alpha / rank, dropout);
        register_module("lora_A", _loraA);
        register_module("lora_B", _loraB);
        _weight.requires_grad = false;
        if (_bias is not null)
        {
            _bias.requires_grad = false;
        }
    }

    /// <inheritdoc />
    public override Tensor forward(Tensor x)
    {
        Tensor y = F.linear(x, _weight, _bias);
        if (_loraA is null)
        {
            return y;
        }

        Tensor h = _dropout > 0 ? F.dropout(x, _dropout, training) : x;
        return y + (_loraB!.forward(_loraA.forward(h)) * _scale);
    }
}
