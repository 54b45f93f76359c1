-- Kindred catalog, migration 006: what the network sees in each picture.
--
-- items.imagenet_class: the ImageNet class (0-999, the line of weights/imagenet-classes.tsv) the
-- network's own classifier ranks first for the picture, from the mean-pooled features it was
-- trained on; written with the item's vectors. Clusters are named by their members' classes
-- (KindredEngine's ClusterLabeler). The stored cnn vectors are pooled otherwise (StandardSpaces),
-- and the classifier applied to them agrees with the network on only about four pictures in five,
-- so the class is kept from the extraction. NULL for an item extracted before 006, until it is
-- extracted again.
ALTER TABLE items ADD COLUMN imagenet_class INTEGER CHECK (imagenet_class BETWEEN 0 AND 999);
