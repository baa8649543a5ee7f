using CalRec.Recommenders.CalRec;
using CalRec.Recommenders.SasRec;

namespace CalRec.Reports.Curves;

/// <summary>One point of a training curve: a step (or epoch) of one phase, as written to the metrics file beside a model.</summary>
/// <param name="Phase">The phase: <c>pretrain</c>, <c>stage1</c>, <c>stage2</c> for CALRec, <c>train</c> for SASRec.</param>
/// <param name="Epoch">1-based epoch within the phase (0 for step-counted pretraining).</param>
/// <param name="Step">1-based step within the phase (the epoch for per-epoch trainers).</param>
/// <param name="Seconds">Wall-clock seconds since the run started.</param>
/// <param name="Loss">The minimized loss.</param>
/// <param name="Terms">The loss terms by name (for CALRec: <c>L_NIG</c>, <c>L_TT</c>, <c>L_UT</c>); terms not computed are absent.</param>
/// <param name="TokensPerSecond">Training throughput, when the trainer measures it.</param>
/// <param name="ValidationNdcg10">Validation NDCG@10 when measured at this point.</param>
public sealed record TrainingCurvePoint(string Phase, int Epoch, int Step, double Seconds, double Loss, IReadOnlyDictionary<string, double> Terms,
    double? TokensPerSecond, double? ValidationNdcg10);

/// <summary>Training curve points from the trainers' progress reports.</summary>
public static class TrainingCurvePoints
{
    /// <summary>A CALRec step (pretraining or a finetuning stage) at <paramref name="seconds"/> since the run started.</summary>
    public static TrainingCurvePoint From(CalRecProgress e, double seconds)
    {
        ArgumentNullException.ThrowIfNull(e);
        var terms = new Dictionary<string, double>(StringComparer.Ordinal);
        if (e.Phase != CalRecPhase.Pretrain)
        {
            Add(terms, "L_NIG", e.LmLoss);
            Add(terms, "L_TT", e.ItemItemLoss);
            Add(terms, "L_UT", e.UserItemLoss);
        }

        // The members of a model trained several times have curves of their own.
        return new TrainingCurvePoint(e.Label, e.Epoch, e.Step, seconds, e.Loss, terms, e.TokensPerSecond, e.ValidationNdcg10);
    }

    /// <summary>A SASRec epoch at <paramref name="seconds"/> since the run started.</summary>
    public static TrainingCurvePoint From(SasRecEpochReport e, double seconds)
    {
        ArgumentNullException.ThrowIfNull(e);
        return new TrainingCurvePoint("train", e.Epoch, e.Epoch, seconds, e.Loss, new Dictionary<string, double>(), null, e.ValidationNdcg10);
    }

    private static void Add(Dictionary<string, double> terms, string name, float value)
    {
        if (float.IsFinite(value))
        {
            terms[name] = value;
        }
    }
}
