using Microsoft.ML;
using Microsoft.ML.Data;

namespace CalRec.MLNet.Tests;

/// <summary>Passes a data view through and counts the rows its cursors deliver.</summary>
internal sealed class CountingDataView(IDataView inner) : IDataView
{
    private long _rowsRead;

    public long RowsRead => Interlocked.Read(ref _rowsRead);

    public bool CanShuffle => false;

    public DataViewSchema Schema => inner.Schema;

    public long? GetRowCount() => inner.GetRowCount();

    public DataViewRowCursor GetRowCursor(IEnumerable<DataViewSchema.Column> columnsNeeded, Random? rand = null) =>
        new Cursor(this, inner.GetRowCursor(columnsNeeded));

    public DataViewRowCursor[] GetRowCursorSet(IEnumerable<DataViewSchema.Column> columnsNeeded, int n, Random? rand = null) => [GetRowCursor(columnsNeeded)];

    private sealed class Cursor(CountingDataView owner, DataViewRowCursor inner) : DataViewRowCursor
    {
        public override long Position => inner.Position;

        public override long Batch => inner.Batch;

        public override DataViewSchema Schema => inner.Schema;

        public override ValueGetter<DataViewRowId> GetIdGetter() => inner.GetIdGetter();

        public override bool IsColumnActive(DataViewSchema.Column column) => inner.IsColumnActive(column);

        public override ValueGetter<TValue> GetGetter<TValue>(DataViewSchema.Column column) => inner.GetGetter<TValue>(column);

        public override bool MoveNext()
        {
            bool moved = inner.MoveNext();
            if (moved)
            {
                Interlocked.Increment(ref owner._rowsRead);
            }

            return moved;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
