namespace CalRec.Tensors.Optim;

/// <summary>How the learning rate decays after warmup.</summary>
public enum DecayKind
{
    /// <summary>Half-cosine from the peak down to the floor.</summary>
    Cosine,

    /// <summary>Straight line from the peak down to the floor.</summary>
    Linear,

    /// <summary>Stay at the peak.</summary>
    Constant,
}

/// <summary>Linear warmup to a peak learning rate, then cosine, linear or no decay to <c>peak·MinRatio</c>.</summary>
/// <param name="Peak">Learning rate at the end of warmup.</param>
/// <param name="WarmupSteps">Steps of linear warmup from 0.</param>
/// <param name="TotalSteps">Step at which decay reaches the floor.</param>
/// <param name="Decay">Decay shape.</param>
/// <param name="MinRatio">Floor as a fraction of the peak.</param>
public sealed record LearningRateSchedule(float Peak, long WarmupSteps, long TotalSteps, DecayKind Decay = DecayKind.Cosine, float MinRatio = 0.1f)
{
    /// <summary>Learning rate for 0-based <paramref name="step"/>.</summary>
    public float At(long step)
    {
        if (WarmupSteps > 0 && step < WarmupSteps)
        {
            return Peak * (step + 1) / WarmupSteps;
        }

        if (Decay == DecayKind.Constant || TotalSteps <= WarmupSteps)
        {
            return Peak;
        }

        double progress = Math.Clamp((double)(step - WarmupSteps) / (TotalSteps - WarmupSteps), 0, 1);
        double shape = Decay == DecayKind.Cosine ? 0.5 * (1 + Math.Cos(Math.PI * progress)) : 1 - progress;
        return (float)(Peak * (MinRatio + ((1 - MinRatio) * shape)));
    }
}
