
namespace CalRec.Recommenders.CalRec;

/// <summary>One training example: a window of a user's training sequence (at least two items) from one dataset.</summary>
/// <param name="Table">The item texts of the example's dataset.</param>
/// <param name="TableKey">A number identifying <paramref name="Table"/> within the batch (its dataset's position).</param>
/// <param name="User">The user's index in that dataset.</param>
/// <param name="Items">Item indices, oldest first; every item after the first is a target.</param>
internal sealed record HistoryExample(ItemTextTable Table, int TableKey, int User, int[] Items);

/// <summary>The identity tokens of the item-ID hybrid: ids <c>Base .. Base + Count - 1</c>, after the text vocabulary.</summary>
/// <param name="Base">The first identity id (also the size of the text vocabulary).</param>
/// <param name="Count">Number of identity tokens (the target's items).</param>
public sealed record IdentityTokens(int Base, int Count);

/// <summary>
/// A batch of serialized histories laid out for one causal pass that trains every position at once. Row r holds
/// <c>tokens(i1) SEP tokens(i2) SEP ... tokens(iL) SEP</c>, right-padded. For each target item i_k (k ≥ 2):
/// the user representation is the prefix ending at the separator after i_(k-1); the in-context item representation is
/// i_k's tokens and its separator; the LM targets are i_k's tokens and its separator, each predicted from the previous
/// position. Targets are de-duplicated into the item tower's rows (<see cref="ItemIds"/>: each distinct target's tokens
/// and a separator, padded). Plain arrays, so that any tensor engine can run CALRec's step on it
/// (<see cref="ICalRecEngine"/>).
/// </summary>
public sealed class HistoryBatch
{
    private HistoryBatch()
    {
    }

    /// <summary>Token ids [Rows × Length].</summary>
    public int[] Ids { get; private set; } = [];

    /// <summary>1 for real tokens, 0 for padding [Rows × Length].</summary>
    public float[] Mask { get; private set; } = [];

    /// <summary>Histories in the batch.</summary>
    public int Rows { get; private set; }

    /// <summary>Tokens per history row (the longest serialized history).</summary>
    public int Length { get; private set; }

    /// <summary>Flat positions (row × Length + t) whose next token is an LM target.</summary>
    public int[] LmPositions { get; private set; } = [];

    /// <summary>The LM target at each of <see cref="LmPositions"/>.</summary>
    public int[] LmTargets { get; private set; } = [];

    /// <summary>Per target: flat start of its row (the user prefix starts there).</summary>
    public int[] UserStarts { get; private set; } = [];

    /// <summary>Per target: prefix length up to and including the separator before the target.</summary>
    public int[] UserLengths { get; private set; } = [];

    /// <summary>Per target: flat start of the target's own tokens.</summary>
    public int[] TargetStarts { get; private set; } = [];

    /// <summary>Per target: number of the target's tokens including its separator.</summary>
    public int[] TargetLengths { get; private set; } = [];

    /// <summary>Per target: its row in the item tower (equal keys: the same item, never each other's negative).</summary>
    public int[] TargetKeys { get; private set; } = [];

    /// <summary>
    /// Per target: the constant added to its column of the contrastive logits, -ln q of its item under the stage's
    /// sampler (the logQ correction of in-batch negatives); empty without the correction.
    /// </summary>
    public float[] KeyLogitOffsets { get; private set; } = [];

    /// <summary>The distinct target items: (table, item).</summary>
    internal List<(ItemTextTable Table, int Item)> UniqueItems { get; } = [];

    /// <summary>Rows of the item tower: one per distinct target item.</summary>
    public int ItemRows => UniqueItems.Count;

    /// <summary>Tokens per item-tower row.</summary>
    public int ItemLength { get; private set; }

    /// <summary>Item-tower token ids [ItemRows × ItemLength]: the item's tokens, its separator, then padding.</summary>
    public int[] ItemIds { get; private set; } = [];

    /// <summary>1 for the item-tower's real tokens, 0 for padding [ItemRows × ItemLength].</summary>
    public float[] ItemMask { get; private set; } = [];

    /// <summary>Per item-tower row: the position of its separator (last-token pooling reads it).</summary>
    public int[] ItemLast { get; private set; } = [];

    /// <summary>
    /// Catalogue-wide negatives for the contrastive terms (null: in-batch negatives only), a constant for this step.
    /// </summary>
    public ItemNegativeBank? Negatives { get; private set; }

    /// <summary>The rows of <see cref="Negatives"/> that hold this batch's own items (left out of the bank's logits).</summary>
    public int[] ExcludedNegatives { get; private set; } = [];

    /// <summary>Number of real tokens in the history pass.</summary>
    public int TokenCount { get; private set; }

    /// <summary>
    /// The model's identity tokens (item-ID hybrid), or null. With them L_NIG is two means: the text positions' cross
    /// entropy over the text vocabulary (<see cref="TextLmPositions"/>) plus the identity positions' over the identity
    /// tokens alone (<see cref="IdentityLmPositions"/>, a softmax over the target's whole catalogue).
    /// </summary>
    public IdentityTokens? Identities { get; private set; }

    /// <summary>With <see cref="Identities"/>: the LM positions whose target is a text token (flat, as <see cref="LmPositions"/>).</summary>
    public int[] TextLmPositions { get; private set; } = [];

    /// <summary>With <see cref="Identities"/>: the text-token target at each of <see cref="TextLmPositions"/>.</summary>
    public int[] TextLmTargets { get; private set; } = [];

    /// <summary>With <see cref="Identities"/>: the LM positions whose target is an identity token.</summary>
    public int[] IdentityLmPositions { get; private set; } = [];

    /// <summary>With <see cref="Identities"/>: the target item at each of <see cref="IdentityLmPositions"/> (identity id minus its base).</summary>
    public int[] IdentityLmTargets { get; private set; } = [];

    /// <summary>
    /// Lays out <paramref name="examples"/>; <paramref name="identities"/> (null: those of the first example table that
    /// has identity tokens, if any) splits the LM targets into text and identity positions; <paramref name="correction"/>
    /// fills <see cref="KeyLogitOffsets"/>.
    /// </summary>
    internal static HistoryBatch Build(IReadOnlyList<HistoryExample> examples, ItemNegativeBank? negatives = null, IdentityTokens? identities = null,
        SamplingCorrection? correction = null)
    {
        identities ??= examples.Select(e => e.Table).FirstOrDefault(t => t.IdentityBase is not null) is { IdentityBase: int b } table ? new IdentityTokens(b, table.Count) : null;
        var batch = new HistoryBatch { Rows = examples.Count, Identities = identities };
        int length = 0;
        foreach (HistoryExample e in examples)
        {
            if (e.Items.Length < 2)
            {
                throw new ArgumentException("A training example needs at least two items (a history and a target).");
            }

            length = Math.Max(length, e.Table.SerializedLength(e.Items));
        }

        batch.Length = length;
        int[] ids = new int[examples.Count * length];
        float[] mask = new float[examples.Count * length];
        var lmPos = new List<int>();
        var lmTgt = new List<int>();
        var userStarts = new List<int>();
        var userLengths = new List<int>();
        var targetStarts = new List<int>();
        var targetLengths = new List<int>();
        var keys = new List<int>();
        var unique = new Dictionary<(int, int), int>();
        for (int r = 0; r < examples.Count; r++)
        {
            HistoryExample e = examples[r];
            int rowStart = r * length, t = 0;
            Array.Fill(ids, e.Table.Pad, rowStart, length);
            for (int k = 0; k < e.Items.Length; k++)
            {
                int[] tokens = e.Table.Tokens(e.Items[k]);
                int itemStart = t;
                if (k > 0)
                {
                    userStarts.Add(rowStart);
                    userLengths.Add(t);
                    targetStarts.Add(rowStart + t);
                    targetLengths.Add(tokens.Length + 1);
                    if (!unique.TryGetValue((e.TableKey, e.Items[k]), out int key))
                    {
                        key = unique.Count;
                        unique[(e.TableKey, e.Items[k])] = key;
                        batch.UniqueItems.Add((e.Table, e.Items[k]));
                    }

                    keys.Add(key);
                }

                foreach (int tok in tokens)
                {
                    ids[rowStart + t] = tok;
                    mask[rowStart + t] = 1f;
                    t++;
                }

                ids[rowStart + t] = e.Table.Separator;
                mask[rowStart + t] = 1f;
                t++;
                if (k > 0)
                {
                    // Position p predicts token p+1: from the separator before the item through its last token.
                    for (int p = itemStart - 1; p < t - 1; p++)
                    {
                        lmPos.Add(rowStart + p);
                        lmTgt.Add(ids[rowStart + p + 1]);
                    }
                }
            }

            batch.TokenCount += t;
        }

        batch.Ids = ids;
        batch.Mask = mask;
        batch.LmPositions = [.. lmPos];
        batch.LmTargets = [.. lmTgt];
        if (identities is not null)
        {
            var text = new List<int>(lmPos.Count);
            var identity = new List<int>();
            for (int i = 0; i < lmTgt.Count; i++)
            {
                (lmTgt[i] >= identities.Base ? identity : text).Add(i);
            }

            batch.TextLmPositions = text.Select(i => lmPos[i]).ToArray();
            batch.TextLmTargets = text.Select(i => lmTgt[i]).ToArray();
            batch.IdentityLmPositions = identity.Select(i => lmPos[i]).ToArray();
            batch.IdentityLmTargets = identity.Select(i => lmTgt[i] - identities.Base).ToArray();
        }
        batch.UserStarts = [.. userStarts];
        batch.UserLengths = [.. userLengths];
        batch.TargetStarts = [.. targetStarts];
        batch.TargetLengths = [.. targetLengths];
        batch.TargetKeys = [.. keys];
        if (correction is not null)
        {
            batch.KeyLogitOffsets = keys.Select(k => correction.Offset(batch.UniqueItems[k].Table, batch.UniqueItems[k].Item)).ToArray();
        }

        (batch.ItemIds, batch.ItemMask, batch.ItemLength, batch.ItemLast) = TwoTowerEncoder.ItemRows(batch.UniqueItems);
        if (negatives is not null)
        {
            batch.Negatives = negatives;
            batch.ExcludedNegatives = batch.UniqueItems.Select(u => negatives.Row(u.Table, u.Item)).ToArray();
        }

        return batch;
    }
}
