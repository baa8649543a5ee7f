
namespace CalRec.Recommenders.CalRec;

/// <summary>
/// The logQ correction of in-batch negatives (Yi et al., 2019): a batch's keys are its target items, so an item is drawn
/// as a negative in proportion to how often it is a target, and popular items are over-penalized. Each key's logits get
/// -ln q_j, where q_j is the probability that a target drawn by the stage's sampler is item j: its domain's mixture
/// weight times its share of that domain's targets.
/// </summary>
internal sealed class SamplingCorrection
{
    private readonly Dictionary<(ItemTextTable Table, int Item), float> _offsets = [];

    /// <summary>Counts every target of <paramref name="components"/> (one list of windows per domain, drawn with <paramref name="mixture"/>).</summary>
    public SamplingCorrection(IReadOnlyList<List<HistoryExample>> components, IReadOnlyList<double> mixture)
    {
        for (int d = 0; d < components.Count; d++)
        {
            var counts = new Dictionary<(ItemTextTable, int), int>();
            long targets = 0;
            foreach (HistoryExample e in components[d])
            {
                for (int k = 1; k < e.Items.Length; k++)
                {
                    counts[(e.Table, e.Items[k])] = counts.GetValueOrDefault((e.Table, e.Items[k])) + 1;
                    targets++;
                }
            }

            foreach (((ItemTextTable, int) key, int count) in counts)
            {
                _offsets[key] = -(float)Math.Log(mixture[d] * count / targets);
            }
        }
    }

    /// <summary>-ln q of a target item (the item must be a target of the stage).</summary>
    public float Offset(ItemTextTable table, int item) => _offsets.TryGetValue((table, item), out float offset)
        ? offset
        : throw new ArgumentException($"Item {item} is not a target of this stage's windows: it has no sampling probability.");
}
