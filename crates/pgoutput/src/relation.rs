//! Relations by id, and rows that pair a tuple with its relation's column names.

use std::collections::HashMap;

use crate::{ColumnValue, Relation, ShapeError, TupleData};

/// The latest [`Relation`] seen for each relation id.
///
/// PostgreSQL sends a Relation message before the first change of a table in a session and
/// again whenever its shape changes (e.g. `ALTER TABLE` mid-stream); Insert/Update/Delete refer
/// to it by id only. Feed every decoded Relation to [`insert`](RelationCache::insert).
#[derive(Debug, Clone, Default)]
pub struct RelationCache {
    relations: HashMap<u32, Relation>,
}

impl RelationCache {
    /// An empty cache.
    pub fn new() -> Self {
        Self::default()
    }

    /// Stores `relation`, replacing (and returning) any earlier one with the same id.
    pub fn insert(&mut self, relation: Relation) -> Option<Relation> {
        self.relations.insert(relation.id, relation)
    }

    /// The latest relation with this id.
    pub fn get(&self, id: u32) -> Option<&Relation> {
        self.relations.get(&id)
    }

    /// Forgets the relation with this id, returning it.
    pub fn remove(&mut self, id: u32) -> Option<Relation> {
        self.relations.remove(&id)
    }

    /// How many relations are cached.
    pub fn len(&self) -> usize {
        self.relations.len()
    }

    /// Whether no relation is cached.
    pub fn is_empty(&self) -> bool {
        self.relations.is_empty()
    }
}

impl Relation {
    /// Pairs `tuple` with this relation's column names.
    ///
    /// Fails when the tuple's column count differs from the relation's: the tuple was written
    /// under another shape of the table than this one.
    pub fn row<'a>(&'a self, tuple: &'a TupleData) -> Result<Row<'a>, ShapeError> {
        if tuple.len() != self.columns.len() {
            return Err(ShapeError {
                relation_id: self.id,
                namespace: self.namespace.clone(),
                name: self.name.clone(),
                relation_columns: self.columns.len(),
                tuple_columns: tuple.len(),
            });
        }
        Ok(Row {
            relation: self,
            tuple,
        })
    }
}

/// A tuple whose columns can be looked up by name. Made by [`Relation::row`].
#[derive(Debug, Clone, Copy)]
pub struct Row<'a> {
    relation: &'a Relation,
    tuple: &'a TupleData,
}

impl<'a> Row<'a> {
    /// The relation that names the columns.
    pub fn relation(&self) -> &'a Relation {
        self.relation
    }

    /// The value of the column called `name`; `None` if the relation has no such column.
    pub fn get(&self, name: &str) -> Option<&'a ColumnValue> {
        self.relation
            .column_index(name)
            .and_then(|i| self.tuple.get(i))
    }

    /// `(column name, value)` pairs, in column order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a ColumnValue)> + 'a {
        self.relation
            .columns
            .iter()
            .map(|c| c.name.as_str())
            .zip(self.tuple.iter())
    }
}
