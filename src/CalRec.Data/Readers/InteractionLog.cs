using CalRec.Data;

namespace CalRec.Data.Readers;

/// <summary>
/// Collects raw (user, item, time) events in source order and turns them into per-user chronological histories: each
/// user's events sorted by time, ties kept in source order (a stable sort). Shared by every reader of event logs.
/// </summary>
internal sealed class InteractionLog
{
    private readonly Dictionary<string, List<(double Time, long Order, string Item)>> _perUser = new(StringComparer.Ordinal);
    private readonly List<string> _userOrder = [];
    private readonly List<string> _itemOrder = [];
    private readonly HashSet<string> _itemSet = new(StringComparer.Ordinal);
    private long _order;

    /// <summary>Whether every event so far had a real timestamp.</summary>
    public bool Timed { get; private set; } = true;

    /// <summary>Item ids in order of first appearance.</summary>
    public IReadOnlyList<string> ItemsSeen => _itemOrder;

    /// <summary>Events added.</summary>
    public long Count => _order;

    /// <summary>Adds one event; a null <paramref name="time"/> orders it by position in the source.</summary>
    public void Add(string user, string item, double? time)
    {
        if (!_perUser.TryGetValue(user, out var list))
        {
            _perUser[user] = list = [];
            _userOrder.Add(user);
        }

        Timed &= time.HasValue;
        list.Add((time ?? _order, _order++, item));
        if (_itemSet.Add(item))
        {
            _itemOrder.Add(item);
        }
    }

    /// <summary>The histories, users in order of first appearance.</summary>
    public IEnumerable<UserSequence> Sequences()
    {
        foreach (string user in _userOrder)
        {
            var ordered = _perUser[user].OrderBy(x => x.Time).ThenBy(x => x.Order).ToList();
            yield return new UserSequence(user, ordered.Select(x => x.Item).ToList(), Timed ? ordered.Select(x => (long)x.Time).ToList() : null);
        }
    }

    /// <summary>A catalogue of the items seen, without titles (for sources that have no item file).</summary>
    public List<CatalogItem> CatalogOfSeenItems() => _itemOrder.Select(id => new CatalogItem(id, string.Empty, string.Empty)).ToList();
}
