//! The serializer wrapper of the bounded encoding: every string value reaches serde_json shortened to what the
//! worker could keep, and a long one reaches the formatter whole, as bytes it writes as a string.

use std::cell::Cell;

use serde::Serialize;
use serde::ser::{
    SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant, SerializeTuple,
    SerializeTupleStruct, SerializeTupleVariant, Serializer,
};

use super::formatter::{WRITTEN_WHOLE_FROM, kept_whole, shortened};

/// What [`Shorten`] tells the formatter about the next byte array it writes: `Some(marked)` when it is a string's
/// kept characters (to be written as a JSON string, with the truncation marker when `marked`), `None` for real
/// bytes.
pub(super) type NextBytes = Cell<Option<bool>>;

/// `value` serialized through [`Shorten`].
pub(super) struct Shortened<'a, 'o, T: ?Sized>(pub(super) &'a T, pub(super) &'o NextBytes);

impl<T: Serialize + ?Sized> Serialize for Shortened<'_, '_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(Shorten(serializer, self.1))
    }
}

/// A serializer that hands every string value to the one it wraps [`shortened`] (or, from
/// [`WRITTEN_WHOLE_FROM`] bytes, as the bytes of its kept characters, which the formatter writes as a string in
/// one pass instead of serde_json's byte-by-byte escaping), and everything else as is. Map keys and field names pass
/// whole (keys are never cut).
struct Shorten<'o, S>(S, &'o NextBytes);

macro_rules! forward {
    ($($method:ident($ty:ty)),* $(,)?) => {
        $(fn $method(self, value: $ty) -> Result<Self::Ok, Self::Error> {
            self.0.$method(value)
        })*
    };
}

impl<'o, S: Serializer> Serializer for Shorten<'o, S> {
    type Ok = S::Ok;
    type Error = S::Error;
    type SerializeSeq = Shorten<'o, S::SerializeSeq>;
    type SerializeTuple = Shorten<'o, S::SerializeTuple>;
    type SerializeTupleStruct = Shorten<'o, S::SerializeTupleStruct>;
    type SerializeTupleVariant = Shorten<'o, S::SerializeTupleVariant>;
    type SerializeMap = Shorten<'o, S::SerializeMap>;
    type SerializeStruct = Shorten<'o, S::SerializeStruct>;
    type SerializeStructVariant = Shorten<'o, S::SerializeStructVariant>;

    forward!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_i128(i128),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_u128(u128),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_unit_struct(&'static str),
    );

    fn serialize_str(self, value: &str) -> Result<Self::Ok, Self::Error> {
        if value.len() >= WRITTEN_WHOLE_FROM {
            let (kept, marked) = kept_whole(value);
            self.1.set(Some(marked));
            return self.0.serialize_bytes(kept.as_bytes());
        }
        self.0.serialize_str(shortened(value))
    }

    fn serialize_bytes(self, value: &[u8]) -> Result<Self::Ok, Self::Error> {
        // Real bytes: written as serde_json writes them (an array of numbers).
        self.1.set(None);
        self.0.serialize_bytes(value)
    }

    fn serialize_none(self) -> Result<Self::Ok, Self::Error> {
        self.0.serialize_none()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<Self::Ok, Self::Error> {
        self.0.serialize_some(&Shortened(value, self.1))
    }

    fn serialize_unit(self) -> Result<Self::Ok, Self::Error> {
        self.0.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
    ) -> Result<Self::Ok, Self::Error> {
        self.0.serialize_unit_variant(name, index, variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        value: &T,
    ) -> Result<Self::Ok, Self::Error> {
        self.0
            .serialize_newtype_struct(name, &Shortened(value, self.1))
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<Self::Ok, Self::Error> {
        self.0
            .serialize_newtype_variant(name, index, variant, &Shortened(value, self.1))
    }

    fn serialize_seq(self, len: Option<usize>) -> Result<Self::SerializeSeq, Self::Error> {
        self.0
            .serialize_seq(len)
            .map(|inner| Shorten(inner, self.1))
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, Self::Error> {
        self.0
            .serialize_tuple(len)
            .map(|inner| Shorten(inner, self.1))
    }

    fn serialize_tuple_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, Self::Error> {
        self.0
            .serialize_tuple_struct(name, len)
            .map(|inner| Shorten(inner, self.1))
    }

    fn serialize_tuple_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleVariant, Self::Error> {
        self.0
            .serialize_tuple_variant(name, index, variant, len)
            .map(|inner| Shorten(inner, self.1))
    }

    fn serialize_map(self, len: Option<usize>) -> Result<Self::SerializeMap, Self::Error> {
        self.0
            .serialize_map(len)
            .map(|inner| Shorten(inner, self.1))
    }

    fn serialize_struct(
        self,
        name: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStruct, Self::Error> {
        self.0
            .serialize_struct(name, len)
            .map(|inner| Shorten(inner, self.1))
    }

    fn serialize_struct_variant(
        self,
        name: &'static str,
        index: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Self::SerializeStructVariant, Self::Error> {
        self.0
            .serialize_struct_variant(name, index, variant, len)
            .map(|inner| Shorten(inner, self.1))
    }

    fn is_human_readable(&self) -> bool {
        self.0.is_human_readable()
    }
}

macro_rules! elements {
    ($($trait:ident :: $method:ident),* $(,)?) => {
        $(impl<S: $trait> $trait for Shorten<'_, S> {
            type Ok = S::Ok;
            type Error = S::Error;

            fn $method<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
                self.0.$method(&Shortened(value, self.1))
            }

            fn end(self) -> Result<Self::Ok, Self::Error> {
                self.0.end()
            }
        })*
    };
}

elements!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

impl<S: SerializeMap> SerializeMap for Shorten<'_, S> {
    type Ok = S::Ok;
    type Error = S::Error;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Self::Error> {
        self.0.serialize_key(key)
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Self::Error> {
        self.0.serialize_value(&Shortened(value, self.1))
    }

    fn serialize_entry<K: Serialize + ?Sized, V: Serialize + ?Sized>(
        &mut self,
        key: &K,
        value: &V,
    ) -> Result<(), Self::Error> {
        self.0.serialize_entry(key, &Shortened(value, self.1))
    }

    fn end(self) -> Result<Self::Ok, Self::Error> {
        self.0.end()
    }
}

macro_rules! fields {
    ($($trait:ident),* $(,)?) => {
        $(impl<S: $trait> $trait for Shorten<'_, S> {
            type Ok = S::Ok;
            type Error = S::Error;

            fn serialize_field<T: Serialize + ?Sized>(
                &mut self,
                key: &'static str,
                value: &T,
            ) -> Result<(), Self::Error> {
                self.0.serialize_field(key, &Shortened(value, self.1))
            }

            fn skip_field(&mut self, key: &'static str) -> Result<(), Self::Error> {
                self.0.skip_field(key)
            }

            fn end(self) -> Result<Self::Ok, Self::Error> {
                self.0.end()
            }
        })*
    };
}

fields!(SerializeStruct, SerializeStructVariant);
