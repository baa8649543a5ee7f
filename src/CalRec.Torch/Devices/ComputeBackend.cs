namespace CalRec.Torch.Devices;

/// <summary>Which tensor engine trains and runs a model.</summary>
public enum ComputeBackend
{
    /// <summary>TorchSharp on a CUDA device when one is available, our managed engine otherwise (faster on CPU).</summary>
    Auto,

    /// <summary>Our managed CPU engine (CalRec.Tensors).</summary>
    Managed,

    /// <summary>TorchSharp (LibTorch) on the selected device, CPU included.</summary>
    TorchSharp,
}
