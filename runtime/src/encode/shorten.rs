//! The serializer wrapper of the bounded encoding: every string value reaches serde_json shortened to what the
//! worker could keep, or, when it is long, is written by the crate straight into the text being built.

use std::cell::{Cell, RefCell};

use serde::Serialize;
use serde::ser::{
    SerializeMap, SerializeSeq, SerializeStruct, SerializeStructVariant, SerializeTuple,
    SerializeTupleStruct, SerializeTupleVariant, Serializer,
};

use super::formatter::{WRITTEN_WHOLE_FROM, open_string, shortened};

/// What [`encode_bounded_into`]'s serializer and [`Shorten`] share: the text being written (serde_json's writer
/// appends to it, and [`Shorten`] writes a long string's token straight into it, with no copy in between), and
/// whether [`Shorten`] has just opened a string there itself (so the formatter does not open it again).
pub(super) struct Shared {
    pub(super) out: RefCell<Vec<u8>>,
    pub(super) opened: Cell<bool>,
}

/// serde_json's writer over [`Shared::out`].
pub(super) struct Out<'o>(pub(super) &'o RefCell<Vec<u8>>);

impl std::io::Write for Out<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.0.borrow_mut().extend_from_slice(bytes);
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `value` serialized through [`Shorten`], writing into the text of `Shared`.
pub(super) struct Shortened<'a, 'o, T: ?Sized>(pub(super) &'a T, pub(super) &'o Shared);

impl<T: Serialize + ?Sized> Serialize for Shortened<'_, '_, T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(Shorten(serializer, self.1))
    }
}

/// A serializer that hands every string value to the one it wraps [`shortened`] (or, from
/// [`WRITTEN_WHOLE_FROM`] bytes, writes it into the shared text itself and has the serializer close it), and
/// everything else as is. Map keys and field names pass whole (keys are never cut).
struct Shorten<'o, S>(S, &'o Shared);

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
        serialize_bytes(&[u8]),
        serialize_unit_struct(&'static str),
    );

    fn serialize_str(self, value: &str) -> Result<Self::Ok, Self::Error> {
        if value.len() >= WRITTEN_WHOLE_FROM {
            // Everything before this value is already in the text (serde_json writes as it goes), so the string is
            // written in place; the serializer then writes an empty string whose opening quote the formatter
            // skips, which closes it.
            open_string(&mut self.1.out.borrow_mut(), value);
            self.1.opened.set(true);
            return self.0.serialize_str("");
        }
        self.0.serialize_str(shortened(value))
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
