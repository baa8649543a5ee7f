namespace CalRec.Tensors;

/// <summary>
/// Differentiable neural-network operations in the spirit of <c>torch.nn.functional</c>: each records its backward
/// pass on the <see cref="Autograd.Tape"/> when an input requires grad, and every backward adds into existing gradients.
/// </summary>
public static partial class Functional
{
}
