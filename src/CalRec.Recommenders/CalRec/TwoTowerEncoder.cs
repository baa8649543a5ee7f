using CalRec.Models.Decoder;
using CalRec.Models.Embeddings;
using CalRec.Tensors;
using F = CalRec.Tensors.Functional;

namespace CalRec.Recommenders.CalRec;

/// <summary>
/// The two towers of CALRec on one shared decoder: the item tower encodes an item's text alone
/// (<c>tokens SEP</c>), the user tower a serialized history (<c>tokens(i1) SEP ... tokens(iL) SEP</c>); both pool the
/// final hidden states (mean over the tokens, or the state of the closing separator).
/// </summary>
internal static class TwoTowerEncoder
{
    /// <summary>The item tower's input for <paramref name="items"/>: token ids, mask, row length and separator positions.</summary>
    public static (int[] Ids, float[] Mask, int Length, int[] Last) ItemRows(IReadOnlyList<(ItemTextTable Table, int Item)> items)
    {
        int length = 0;
        foreach ((ItemTextTable table, int item) in items)
        {
            length = Math.Max(length, table.Tokens(item).Length + 1);
        }

        int n = items.Count;
        int[] ids = new int[n * length];
        float[] mask = new float[n * length];
        int[] last = new int[n];
        for (int r = 0; r < n; r++)
        {
            (ItemTextTable table, int item) = items[r];
            int[] tokens = table.Tokens(item);
            Array.Fill(ids, table.Pad, r * length, length);
            tokens.CopyTo(ids, r * length);
            ids[(r * length) + tokens.Length] = table.Separator;
            mask.AsSpan(r * length, tokens.Length + 1).Fill(1f);
            last[r] = tokens.Length;
        }

        return (ids, mask, length, last);
    }

    /// <summary>Item-tower representations [rows, D] of prepared rows (see <see cref="ItemRows"/>).</summary>
    public static ManagedTensor EncodeItemRows(DecoderLM model, int[] ids, float[] mask, int rows, int length, int[] last, Pooling pooling) =>
        Pool(model, ids, mask, rows, length, last, pooling);

    /// <summary>Pooled item-tower representations [texts, D] of raw token sequences (such as generated item texts), each closed by the separator.</summary>
    public static ManagedTensor EncodeTokens(DecoderLM model, IReadOnlyList<int[]> texts, ItemTextTable table, Pooling pooling)
    {
        int length = texts.Max(t => t.Length) + 1, n = texts.Count;
        int[] ids = new int[n * length];
        float[] mask = new float[n * length];
        int[] last = new int[n];
        for (int r = 0; r < n; r++)
        {
            Array.Fill(ids, table.Pad, r * length, length);
            texts[r].CopyTo(ids, r * length);
            ids[(r * length) + texts[r].Length] = table.Separator;
            mask.AsSpan(r * length, texts[r].Length + 1).Fill(1f);
            last[r] = texts[r].Length;
        }

        return Pool(model, ids, mask, n, length, last, pooling);
    }

    /// <summary>
    /// The user tower's input for already length-limited histories: token ids (each item's tokens and a separator),
    /// mask, row length and each row's closing separator.
    /// </summary>
    public static (int[] Ids, float[] Mask, int Length, int[] Last) HistoryRows(ItemTextTable table, IReadOnlyList<int[]> histories)
    {
        int length = 0;
        foreach (int[] h in histories)
        {
            length = Math.Max(length, table.SerializedLength(h));
        }

        int n = histories.Count;
        int[] ids = new int[n * length];
        float[] mask = new float[n * length];
        int[] last = new int[n];
        for (int r = 0; r < n; r++)
        {
            int t = r * length;
            Array.Fill(ids, table.Pad, t, length);
            foreach (int item in histories[r])
            {
                int[] tokens = table.Tokens(item);
                tokens.CopyTo(ids, t);
                t += tokens.Length;
                ids[t++] = table.Separator;
            }

            mask.AsSpan(r * length, t - (r * length)).Fill(1f);
            last[r] = t - (r * length) - 1;
        }

        return (ids, mask, length, last);
    }

    private static ManagedTensor Pool(DecoderLM model, int[] ids, float[] mask, int rows, int length, int[] last, Pooling pooling)
    {
        ManagedTensor m = ManagedTensor.from(mask, rows, length);
        ManagedTensor hidden = model.Hidden(ids, rows, length, m);
        return pooling == Pooling.Mean ? F.masked_mean_pool(hidden, m) : F.last_token_pool(hidden, last);
    }
}
