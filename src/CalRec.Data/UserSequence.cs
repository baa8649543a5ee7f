namespace CalRec.Data;

/// <summary>A user's chronological history from <c>sequences.jsonl</c>.</summary>
/// <param name="User">User id.</param>
/// <param name="Items">Item ids, oldest first.</param>
/// <param name="Timestamps">Unix seconds per item, or null when the source has only an order.</param>
public sealed record UserSequence(string User, IReadOnlyList<string> Items, IReadOnlyList<long>? Timestamps);
