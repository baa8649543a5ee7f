using CalRec.Recommenders.SasRec;
using CalRec.Torch.Decoder;
using TorchSharp.Modules;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace CalRec.Torch.SasRec;

/// <summary>
/// SASRec's network as our engine defines it, as a TorchSharp module with the same parameter names
/// (<c>item_emb</c>, <c>pos_emb</c>, <c>blocks.N.*</c>, <c>last_layernorm</c>): item table scaled by √d plus positions
/// counted from the end of the window, pre-norm causal self-attention whose residual starts from the normed input,
/// a ReLU point-wise feed-forward, padding zeroed after every block.
/// </summary>
internal sealed class TorchSasRecNetwork : nn.Module
{
    private readonly SasRecEngineSettings _s;
    private readonly Embedding _items;
    private readonly Embedding _positions;
    private readonly ModuleList<TorchSasRecBlock> _blocks;
    private readonly LayerNorm _last;

    internal TorchSasRecNetwork(SasRecEngineSettings settings)
        : base("sasrec")
    {
        _s = settings;
        _items = nn.Embedding(settings.ItemCount + 1, settings.Hidden);
        _positions = nn.Embedding(settings.MaxLength, settings.Hidden);
        _blocks = nn.ModuleList(Enumerable.Range(0, settings.Blocks).Select(_ => new TorchSasRecBlock(settings.Hidden)).ToArray());
        _last = nn.LayerNorm(settings.Hidden, 1e-8);
        register_module("item_emb", _items);
        register_module("pos_emb", _positions);
        register_module("blocks", _blocks);
        register_module("last_layernorm", _last);
    }

    /// <summary>The item table [items + 1, d] (row 0: padding).</summary>
    internal Parameter ItemTable => _items.weight!;

    /// <summary>Hidden states [b, t, d] for table rows [b, t] (0: padding, left).</summary>
    internal Tensor Forward(Tensor rows)
    {
        long b = rows.shape[0], t = rows.shape[1];
        Tensor keep = rows.ne(0);
        Tensor timeline = keep.to(_items.weight!.dtype).unsqueeze(-1);
        Tensor positions = arange(_s.MaxLength - t, _s.MaxLength, dtype: int64, device: rows.device).unsqueeze(0).expand(b, t);
        Tensor mask = ones(t, t, dtype: @bool, device: rows.device).tril().view(1, 1, t, t).logical_and(keep.view(b, 1, 1, t));
        Tensor x = Dropout((_items.forward(rows) * MathF.Sqrt(_s.Hidden)) + _positions.forward(positions)) * timeline;
        for (int i = 0; i < _blocks.Count; i++)
        {
            x = _blocks[i].Forward(x, mask, _s.Heads, Dropout) * timeline;
        }

        // A network in bfloat16 (mixed precision's working copy) hands float32 states on: the losses run in float32.
        Tensor h = _last.forward(x);
        return h.dtype == float32 ? h : h.to(float32);
    }

    /// <summary>Scores of every item [n, items] for hidden states [n, d] (computed in the table's precision, returned in the states').</summary>
    internal Tensor Scores(Tensor hidden)
    {
        Tensor table = ItemTable[1..];
        return table.dtype == hidden.dtype ? hidden.matmul(table.t()) : hidden.to(table.dtype).matmul(table.t()).to(hidden.dtype);
    }

    private Tensor Dropout(Tensor x) => _s.Dropout > 0 ? F.dropout(x, _s.Dropout, training) : x;
}

/// <summary>One SASRec block (<c>blocks.N</c>).</summary>
internal sealed class TorchSasRecBlock : nn.Module
{
    private readonly LayerNorm _attentionNorm;
    private readonly Linear _q;
    private readonly Linear _k;
    private readonly Linear _v;
    private readonly Linear _out;
    private readonly LayerNorm _forwardNorm;
    private readonly Linear _conv1;
    private readonly Linear _conv2;

    internal TorchSasRecBlock(int d)
        : base("block")
    {
        _attentionNorm = nn.LayerNorm(d, 1e-8);
        _q = nn.Linear(d, d);
        _k = nn.Linear(d, d);
        _v = nn.Linear(d, d);
        _out = nn.Linear(d, d);
        _forwardNorm = nn.LayerNorm(d, 1e-8);
        _conv1 = nn.Linear(d, d);
        _conv2 = nn.Linear(d, d);
        register_module("attention_layernorm", _attentionNorm);
        register_module("q_proj", _q);
        register_module("k_proj", _k);
        register_module("v_proj", _v);
        register_module("out_proj", _out);
        register_module("forward_layernorm", _forwardNorm);
        register_module("conv1", _conv1);
        register_module("conv2", _conv2);
    }

    internal Tensor Forward(Tensor x, Tensor mask, int heads, Func<Tensor, Tensor> dropout)
    {
        long b = x.shape[0], t = x.shape[1], d = x.shape[2], hd = d / heads;
        Tensor q = _attentionNorm.forward(x);
        Tensor att = Attention.Attend(_q.forward(q).view(b, t, heads, hd), _k.forward(x).view(b, t, heads, hd), _v.forward(x).view(b, t, heads, hd), mask);
        x = q + dropout(_out.forward(att.reshape(b, t, d)));
        x = _forwardNorm.forward(x);
        return x + dropout(_conv2.forward(dropout(F.relu(_conv1.forward(x)))));
    }
}
